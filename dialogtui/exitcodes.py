"""Process exit codes: one per failure class, so scripts can branch without parsing text."""

from __future__ import annotations

from typing import Final

OK: Final = 0
FAILED: Final = 1
"""A scripted run in which some turn did not end in `done`."""
USAGE: Final = 2
"""Bad arguments or configuration."""
AUTH: Final = 3
"""Missing, rejected or expired credentials (401, 403)."""
KEYRING: Final = 4
"""The OS keyring is missing, locked or failing."""
NETWORK: Final = 5
"""Could not connect, or the server timed out."""
HTTP_ERROR: Final = 6
"""The server refused the request (an `ApiError` other than 401/403)."""
STREAM_ERROR: Final = 7
"""The reply stream ended with an `error` event."""
INCOMPLETE: Final = 8
"""The reply stream ended without `done` or `error`, or could not be read."""
INTERRUPTED: Final = 130
"""Stopped by Ctrl-C."""
