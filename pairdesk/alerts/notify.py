"""Where a rule's events go: its ``notify`` URLs, checked on the way in and masked on the way out.

A destination is an apprise URL (``tgram://bot_token/chat_id``, ``discord://webhook_id/token``,
``slack://…``, ``mailto://user:password@host``, ``ntfy://topic``, ``json://host:port/path``, and the
hundred others apprise speaks; see https://github.com/caronc/apprise/wiki), or a plain
``http(s)://`` webhook, which receives the event as a JSON object as it always did
(``pairdesk.alerts.channels``). apprise is imported only to check or send an apprise URL, so an
ingestor whose rules have none never loads it (about 36 MB).

URLs carry secrets (bot tokens, passwords, private topics), so the page and the API show them
through ``mask_url`` only (``tgram://12…op/98…21``); a form or a PUT that sends a masked URL back
means "the saved one, unchanged" (``restore_masked``).
"""
from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from pairdesk.alerts.rules import RuleError

MAX_NOTIFY_URLS = 10
MAX_URL_CHARS = 2000
WEBHOOK_SCHEMES = ("http", "https")
MASK = "…"
APPRISE_WIKI = "https://github.com/caronc/apprise/wiki"
_SHOWN_PART_CHARS = 4  # a part this short is shown: it cannot hide a secret
_KEPT_HOSTS = ("localhost",)


def scheme_of(url: str) -> str:
    """The URL's scheme, lower case ('' when it has none)."""
    scheme, sep, _rest = url.partition("://")
    return scheme.lower() if sep else ""


def is_webhook(url: str) -> bool:
    """A plain http(s) webhook (the event as JSON), not an apprise URL."""
    return scheme_of(url) in WEBHOOK_SCHEMES


@functools.lru_cache(maxsize=256)
def apprise_understands(url: str) -> bool:
    """apprise can send to ``url`` (it parses it into one of its services)."""
    import apprise  # here: see the module docstring

    return apprise.Apprise.instantiate(url, suppress_exceptions=True) is not None


def _masked_part(part: str) -> str:
    return part if len(part) <= _SHOWN_PART_CHARS else f"{part[:2]}{MASK}{part[-2:]}"


def _is_public_host(host: str) -> bool:
    """A host name or address (shown), not a token in the host's place (``tgram://<token>/...``)."""
    return "." in host or host.lower() in _KEPT_HOSTS or host.startswith("[")


def mask_url(url: str) -> str:
    """``url`` with what may be a secret hidden: passwords as ``****``; every other part longer than
    four characters (a token in the host's place, each path segment) as its first and last two
    characters around ``…``; the query as ``?…``. Host names and addresses stay readable:
    ``tgram://123456789:AAH…/987654321`` -> ``tgram://12…AH/98…21``,
    ``json://127.0.0.1:8000/hook`` stays as it is. Deterministic, so ``restore_masked`` can match it."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _masked_part(url)
    rest, query_sep, _query = rest.partition("?")
    rest, _fragment_sep, _fragment = rest.partition("#")
    authority, slash, path = rest.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    if at:
        user, colon, _password = userinfo.partition(":")
        userinfo = _masked_part(user) + (":****" if colon else "") + "@"
    host, colon, port = hostport.partition(":") if not hostport.startswith("[") else (hostport, "", "")
    if _is_public_host(host) and (not colon or port.isdigit()):
        shown_host = hostport
    else:
        shown_host = _masked_part(hostport)
    shown_path = "/".join(_masked_part(segment) for segment in path.split("/")) if slash else ""
    return f"{scheme}://{userinfo}{shown_host}{slash}{shown_path}{'?' + MASK if query_sep else ''}"


def masked(urls: Iterable[str]) -> list[str]:
    """``mask_url`` of each URL."""
    return [mask_url(url) for url in urls]


def restore_masked(given: Sequence[str], saved: Sequence[str]) -> list[str]:
    """``given`` with each masked URL that is the mask of one of the ``saved`` ones replaced by it (a
    form or an API client sent back what it was shown); other URLs as given."""
    by_mask = {mask_url(url): url for url in saved}
    return [by_mask.get(url, url) if isinstance(url, str) and MASK in url else url for url in given]


def check_url(value: Any, what: str = "notify URL") -> str:
    """One destination, stripped; RuleError naming it (masked) when apprise cannot send to it."""
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"each {what} must be a URL such as tgram://bot_token/chat_id or https://host/hook, "
                        f"got {value!r}")
    url = value.strip()
    if MASK in url:
        raise RuleError(f"{what} {url!r} is masked: type the full URL again (a saved one stays when sent back "
                        f"unchanged)")
    if len(url) > MAX_URL_CHARS or any(c.isspace() for c in url):
        raise RuleError(f"{what} {mask_url(url)!r} must be one URL of at most {MAX_URL_CHARS} characters, "
                        f"without spaces")
    scheme = scheme_of(url)
    if scheme in WEBHOOK_SCHEMES:
        if not urlsplit(url).netloc:
            raise RuleError(f"{what} {mask_url(url)!r} has no host; use https://host/path")
        return url
    if not scheme or not apprise_understands(url):
        raise RuleError(f"{what} {mask_url(url)!r} is not one apprise can send to (unknown service "
                        f"{scheme or 'none'!r}, or a part of it is malformed); see {APPRISE_WIKI}")
    return url


def check_notify(value: Any, legacy_webhook: Any = None) -> tuple[str, ...]:
    """A rule's destinations: ``value`` (a list of URLs, or one string of URLs separated by spaces or
    line breaks; None or empty for none) plus ``legacy_webhook`` (the older ``webhook_url`` field: one
    http(s) URL), each checked by ``check_url``, duplicates dropped, at most MAX_NOTIFY_URLS."""
    if value is None:
        value = []
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, (list, tuple)):
        raise RuleError(f"notify must be a list of URLs such as ['tgram://bot_token/chat_id'], got {value!r}")
    urls = [check_url(url) for url in value]
    if legacy_webhook is not None and not (isinstance(legacy_webhook, str) and not legacy_webhook.strip()):
        if not isinstance(legacy_webhook, str) or not is_webhook(legacy_webhook.strip()) \
                or not urlsplit(legacy_webhook.strip()).netloc:
            raise RuleError(f"webhook_url must be an http:// or https:// URL, got {legacy_webhook!r}")
        urls.append(check_url(legacy_webhook, "webhook_url"))
    unique = tuple(dict.fromkeys(urls))
    if len(unique) > MAX_NOTIFY_URLS:
        raise RuleError(f"notify takes at most {MAX_NOTIFY_URLS} URLs, got {len(unique)}")
    return unique
