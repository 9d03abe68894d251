"""Schemathesis against the API's own OpenAPI schema, in-process (ASGI), on a database of the recorded
real trades: generated valid and invalid requests to every operation never cause a server error, and
every answer matches what the schema documents (status code, content type, response model).

The schema is loaded eagerly (``schemathesis.openapi.from_asgi`` at import: the OpenAPI page does not
touch the database); a module fixture then points the app at a freshly built database. (The lazy
``schemathesis.pytest.from_fixture`` loader fails under pytest 9: it sets ``Node._nodeid``.)
"""
from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from pairdesk.api.deps import Database
from pairdesk.api.main import create_app
from test_api import TOKEN, build_recorded_db

MAX_EXAMPLES = 40  # per operation: the whole run takes about 20 s

app = create_app(Path("not-built-yet.db"), TOKEN)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module", autouse=True)
def recorded_database(tmp_path_factory) -> Path:
    """The app serves its own copy of the recorded database (the run writes rules, uploads, summaries)."""
    path = build_recorded_db(tmp_path_factory.mktemp("schemathesis") / "ticks.db")
    app.state.database = Database(path, TOKEN)
    return path


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_causes_a_server_error(case):
    """Whatever the parameters and body, the answer is never a 5xx and is what the schema documents
    (the token is sent, so the admin and watchlist endpoints are exercised too)."""
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"},
                           checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance])
