"""The sans-I/O trade sequencer: literal ids in, duplicate / advance / gap out."""
from __future__ import annotations

import pytest

from pairdesk.ingest.sequencer import Sequenced, Step, sequence


@pytest.mark.parametrize(("last_id", "trade_id", "expected"), [
    (None, 7, Sequenced(Step.ADVANCE)),
    (7, 8, Sequenced(Step.ADVANCE)),
    (7, 7, Sequenced(Step.DUPLICATE)),
    (7, 3, Sequenced(Step.DUPLICATE)),
    (7, 9, Sequenced(Step.GAP, (8, 8))),
    (7, 1_007, Sequenced(Step.GAP, (8, 1_006))),
    (3_735_693_015, 3_735_693_016, Sequenced(Step.ADVANCE)),  # the recorded midnight boundary of BTCUSDT spot
])
def test_each_id_is_a_duplicate_an_advance_or_a_gap(last_id, trade_id, expected):
    """Each case of the rule, with the missing ids of a gap inclusive at both ends."""
    assert sequence(last_id, trade_id) == expected


def test_a_stream_with_a_hole_and_a_resend_is_classified_trade_by_trade():
    """Feeding a stream through the rule finds exactly the hole and the resent ids."""
    last, steps, gaps = None, [], []
    for trade_id in [10, 11, 12, 15, 13, 15, 16]:
        seen = sequence(last, trade_id)
        steps.append(seen.step)
        if seen.gap:
            gaps.append(seen.gap)
        if seen.step is not Step.DUPLICATE:
            last = trade_id
    assert gaps == [(13, 14)]
    assert steps == [Step.ADVANCE, Step.ADVANCE, Step.ADVANCE, Step.GAP, Step.DUPLICATE, Step.DUPLICATE,
                     Step.ADVANCE]
