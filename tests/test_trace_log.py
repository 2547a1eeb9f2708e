"""The log line for each request (`api/trace.LogObserver`): live-chat polls, which come every
2-3 s while a chat lasts, stay out of the INFO log unless they fail."""

from __future__ import annotations

import logging

import pytest

from dialogtui.api.retry import Operation
from dialogtui.api.trace import LogObserver, RequestFinished


def finished(op: Operation, outcome: str, path: str) -> RequestFinished:
    return RequestFinished(
        op=op,
        outcome=outcome,
        elapsed=0.02,
        retries=0,
        timed_out=False,
        method="GET",
        path=path,
        status=200 if outcome == "ok" else 503,
    )


@pytest.mark.parametrize(
    ("op", "outcome", "path", "level"),
    [
        (Operation.LIVECHAT_POLL, "ok", "/api/v1/chat/livechat/state", logging.DEBUG),
        (Operation.LIVECHAT_POLL, "http", "/api/v1/chat/livechat/state", logging.WARNING),
        (Operation.LIVECHAT, "ok", "/api/v1/chat/livechat/message", logging.INFO),
        (Operation.HISTORY, "ok", "/api/v1/chat/messages", logging.INFO),
    ],
)
def test_each_request_is_logged_at_its_level(
    op: Operation, outcome: str, path: str, level: int, caplog: pytest.LogCaptureFixture
) -> None:
    observer = LogObserver(environment="test", chatbot_id="bot")
    with caplog.at_level(logging.DEBUG, logger="dialogtui.api"):
        observer(finished(op, outcome, path))
    [record] = caplog.records
    assert record.levelno == level
    assert f"GET {path} outcome={outcome}" in record.getMessage()
