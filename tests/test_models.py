"""Decoding edges the stream contract makes important."""

from __future__ import annotations

from dialogtui.api.models import MalformedEvent, StreamErrorEvent, UnknownEvent, decode_event


def test_error_event_without_retryable_is_not_retryable() -> None:
    assert decode_event(
        "error", '{"code": "generation_failed", "message": "x"}'
    ) == StreamErrorEvent(code="generation_failed", message="x", retryable=False)


def test_error_event_with_null_message_keeps_its_flag() -> None:
    event = decode_event(
        "error", '{"code": "generation_failed", "message": null, "retryable": true}'
    )
    assert isinstance(event, StreamErrorEvent) and event.retryable


def test_unreadable_error_event_still_ends_the_stream_not_retryable() -> None:
    # Skipping it would turn a server-declared failure into a "cut off" reply with Retry.
    for data in ('{"code": 5}', "{broken", '"just a string"'):
        assert decode_event("error", data) == StreamErrorEvent(
            code="unreadable", message="", retryable=False
        )


def test_other_bad_events_are_kept_as_malformed_or_unknown() -> None:
    assert isinstance(decode_event("part_delta", "{broken"), MalformedEvent)
    assert isinstance(decode_event("typing", "{}"), UnknownEvent)


def test_a_malformed_done_keeps_no_visitor_token() -> None:
    # `done` carries the rotated token; a malformed one is still printed (`send --json`) and
    # shown, so its raw data must not go along.
    for data in (
        '{"message": "oops", "visitor_token": "vt-rotated-secret"}',
        '{"message": {"parts": 5}, "visitor_token": "vt-rotated-secret"',
    ):
        event = decode_event("done", data)
        assert isinstance(event, MalformedEvent) and event.name == "done" and event.reason
        assert "vt-rotated-secret" not in repr(event)
