"""The log file: one structured record per API request, as the vendor's checklist asks.

Records come from the `dialogtui.api` logger (see `api.trace`); they carry no message
content, keys, tokens or Authorization headers, and every handler redacts once more in
case anything else slips in.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Final

LOG_FILENAME: Final = "dialogtui.log"
_MAX_BYTES: Final = 1_000_000
_BACKUPS: Final = 3
_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s %(message)s"


class _QuietRotatingFileHandler(RotatingFileHandler):
    """A log file that gives up quietly: a full disk or any other OSError while writing stops
    logging for the rest of the run, with one short line on stderr, instead of the logging
    module's "--- Logging error ---" traceback on every record."""

    def handleError(self, record: logging.LogRecord) -> None:
        package_logger = logging.getLogger("dialogtui")
        package_logger.removeHandler(self)
        # Not to the root logger either, whose last resort would print warnings on stderr.
        package_logger.addHandler(logging.NullHandler())
        error = sys.exc_info()[1]
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "error"
        with contextlib.suppress(Exception):  # closing flushes, and the flush is what fails
            self.close()
        with contextlib.suppress(Exception):  # nowhere left to say it
            from .text import sanitize_line

            where = sanitize_line(self.baseFilename)
            sys.stderr.write(f"dialogtui: logging stopped ({reason.lower()}): {where}\n")


class _OneLineFormatter(logging.Formatter):
    """Each record on one line, as the terminal rule has it (`text.sanitize_line`): a field
    taken from input (a chatbot id, a path) can neither forge a line nor hold an escape."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        from .text import sanitize_line

        return sanitize_line(super().formatMessage(record))


def configure_file_logging(directory: Path | None = None) -> Path | None:
    """Send dialogtui's records to a private, rotating log file; None if it cannot be opened.

    Logging must never stop the app: a directory that cannot be written means no log file.
    """
    from .api.redaction import RedactingFilter
    from .config import log_dir

    directory = directory or log_dir()
    path = directory / LOG_FILENAME
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Created private before the handler opens it: request ids and bot ids are not for others.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        handler = _QuietRotatingFileHandler(
            path, maxBytes=_MAX_BYTES, backupCount=_BACKUPS, encoding="utf-8"
        )
    except OSError:
        return None
    handler.setFormatter(_OneLineFormatter(_FORMAT))
    handler.addFilter(RedactingFilter())
    package_logger = logging.getLogger("dialogtui")
    package_logger.setLevel(logging.INFO)
    package_logger.addHandler(handler)
    return path
