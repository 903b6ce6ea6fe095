"""Issue 24, item 4: what `local down` says of the messages in flight it released, and the stop grace's setting
(PIPELINE_LOCAL_STOP_GRACE_SECONDS): a bad value is one line naming the variable and the fix, before anything
starts. The released messages themselves: tests/e2e/test_down_in_flight.py."""

from __future__ import annotations

import pytest

from restaurant_pipeline.local import control
from restaurant_pipeline.local.control import DownResult
from restaurant_pipeline.local.supervisor import STOP_GRACE_ENV, StackOptions, stop_grace_seconds


def test_the_grace_is_30_seconds_unless_the_environment_says_otherwise():
    assert stop_grace_seconds(environ={}) == 30
    assert stop_grace_seconds(environ={STOP_GRACE_ENV: " 2.5 "}) == 2.5
    assert stop_grace_seconds(12, environ={STOP_GRACE_ENV: ""}) == 12


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "3601", "inf"])
def test_a_grace_that_is_no_number_of_seconds_is_refused_with_the_fix(value):
    with pytest.raises(ValueError) as raised:
        stop_grace_seconds(environ={STOP_GRACE_ENV: value})
    message = str(raised.value)
    assert message.startswith(f"{STOP_GRACE_ENV}={value!r} is not a number of seconds from 0 to 3600")
    assert "unset it" in message and "\n" not in message


def test_local_up_refuses_a_bad_grace_before_starting_anything(tmp_path, monkeypatch):
    monkeypatch.setenv(STOP_GRACE_ENV, "a while")
    with pytest.raises(control.StackStartError, match=f"^{STOP_GRACE_ENV}='a while' is not a number"):
        control.up(StackOptions(state_dir=str(tmp_path / "state")), detach=True)
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize(
    ("result", "words"),
    [
        (
            DownResult(True, saved=True, released=1),
            "1 message in flight was released and will be delivered again after `local up`.",
        ),
        (
            DownResult(True, saved=True, released=3),
            "3 messages in flight were released and will be delivered again after `local up`.",
        ),
        (
            DownResult(True, error="disk full", holding=True, released=2),
            "2 messages in flight were released; they wait in the queues, to be saved when `local down` succeeds.",
        ),
        (
            DownResult(True, error="disk full", holding=True, released=1),
            "1 message in flight was released; it waits in the queues, to be saved when `local down` succeeds.",
        ),
        (
            DownResult(True, released=1),
            "1 message in flight was released but not saved (--no-save): lost with the stack's unsaved state.",
        ),
        (DownResult(True, saved=True), None),
    ],
)
def test_down_counts_the_released_messages_truthfully(result, words):
    assert result.released_sentence() == words
