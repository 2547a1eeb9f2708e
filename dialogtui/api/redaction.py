"""Redaction of anything that looks like a credential, for log records and tooling.

Apart from the trace events (which need msgspec) so that the log file's filter, set up
before the first frame, loads no more than `re` and `logging`.
"""

from __future__ import annotations

import logging
import re
from typing import Final

_REDACTED: Final = "[REDACTED]"
_PATTERNS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    # `Authorization: anything` up to the end of the line or a closing quote.
    (re.compile(r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?)[^\"'\r\n]+"), r"\1" + _REDACTED),
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{4,}"), r"\1\2" + _REDACTED),
    # A JWT: three base64url segments, the first one a JSON object (`{"` encodes as `eyJ`).
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), _REDACTED),
    # key=value / "key": "value" pairs whose names say secret.
    (
        re.compile(
            r"(?i)(\b(?:api[_-]?key|x-api-key|visitor[_-]?token|access[_-]?token|token|password|secret)"
            r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}]+"
        ),
        r"\1" + _REDACTED,
    ),
)


def redact(text: str) -> str:
    """Scrub anything that looks like a credential. Idempotent."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites records so their formatted message and traceback are redacted.

    Attach it to handlers (a logger's filters do not see records propagated from child loggers):
    `handler.addFilter(RedactingFilter())`.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
