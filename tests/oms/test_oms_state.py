"""The OrdStatus table: legal paths, the races, and illegal events named."""
import pytest

from fixgw.domain import OrdStatus as S
from fixgw.oms.state import TERMINAL, IllegalTransition, OrderEvent as E, next_status


def test_happy_path_new_partial_filled():
    s = next_status(S.PENDING_NEW, E.ACCEPT, False)
    assert s is S.NEW
    s = next_status(s, E.PARTIAL_FILL, True)
    assert s is S.PARTIALLY_FILLED
    assert next_status(s, E.FILL, True) is S.FILLED


def test_fill_while_cancel_pending_keeps_pending_cancel_until_complete():
    assert next_status(S.PENDING_CANCEL, E.PARTIAL_FILL, True) is S.PENDING_CANCEL
    assert next_status(S.PENDING_CANCEL, E.FILL, True) is S.FILLED


def test_refused_cancel_or_replace_returns_to_working_state_by_fills():
    assert next_status(S.PENDING_CANCEL, E.CANCEL_REFUSED, False) is S.NEW
    assert next_status(S.PENDING_CANCEL, E.CANCEL_REFUSED, True) is S.PARTIALLY_FILLED
    assert next_status(S.PENDING_REPLACE, E.REPLACED, True) is S.PARTIALLY_FILLED
    assert next_status(S.PENDING_REPLACE, E.REPLACE_REFUSED, False) is S.NEW


@pytest.mark.parametrize("terminal", sorted(TERMINAL, key=lambda s: s.value))
@pytest.mark.parametrize("event", [E.CANCEL_REQUESTED, E.REPLACE_REQUESTED, E.PARTIAL_FILL, E.ACCEPT])
def test_no_event_moves_a_terminal_order(terminal, event):
    with pytest.raises(IllegalTransition) as err:
        next_status(terminal, event, True, "O-1")
    text = str(err.value)
    assert terminal.name in text and event.value in text and "O-1" in text


def test_replace_requested_twice_is_illegal():
    with pytest.raises(IllegalTransition, match="PENDING_REPLACE"):
        next_status(S.PENDING_REPLACE, E.REPLACE_REQUESTED, False)
