"""One error hierarchy the application decides on without parsing strings.

Every error carries `safe_message`: short, non-technical text for a person, chosen by
code, then by status, then a generic fallback. Server-sent text never reaches it; the
server's own message is kept in `server_message` for developer tooling only.

The two error channels of the API are separate types with separate code tables:
`ApiHttpError` (the `ApiError` envelope of a non-2xx response) and `StreamError`
(the `error` event that ends a 200 stream).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .models import FieldError

GENERIC_MESSAGE: Final = "Something went wrong. Please try again later."

# HTTP envelope codes (`error.code`), as documented.
_HTTP_CODE_MESSAGES: Final[dict[str, str]] = {
    "unauthorized": "Your session has expired. Start a new conversation to continue.",
    "forbidden": "This chatbot is not available to you. Check that your key has access to it.",
    "not_found": "This chatbot or conversation is not available.",
    "validation": "Some of the information sent was not accepted. Check the highlighted fields.",
    "rate_limited": "The chatbot is busy right now. Please wait a moment and try again.",
    "internal": "The chatbot had a problem. Please try again.",
    "conflict": "This was already handled or is no longer current.",
}

_HTTP_STATUS_MESSAGES: Final[dict[int, str]] = {
    400: "The message could not be sent as it is. Change it and try again.",
    401: _HTTP_CODE_MESSAGES["unauthorized"],
    403: _HTTP_CODE_MESSAGES["forbidden"],
    404: _HTTP_CODE_MESSAGES["not_found"],
    409: _HTTP_CODE_MESSAGES["conflict"],
    413: (
        "The message or its attachment is too large for the server. "
        "Shorten it, or attach a smaller file."
    ),
    422: _HTTP_CODE_MESSAGES["validation"],
    429: _HTTP_CODE_MESSAGES["rate_limited"],
}
_SERVER_ERROR_MESSAGE: Final = "The chatbot is temporarily unavailable. Please try again."
_VALIDATION_WITHOUT_FIELDS: Final = (
    "The chatbot did not accept what was sent. Change it and try again."
)

# Stream `error` event codes: a different enum from the HTTP one.
_STREAM_CODE_MESSAGES: Final[dict[str, str]] = {
    "generation_failed": "The reply could not be finished.",
}
_STREAM_FALLBACK: Final = "The reply stopped because of a problem on the chatbot's side."

# Statuses the contract lets a client repeat unchanged (with backoff).
RETRYABLE_STATUSES: Final = frozenset({429}) | frozenset(range(500, 600))


class DialogError(Exception):
    """Base of every failure the client reports. `str()` is the safe message."""

    kind: str = "error"

    def __init__(self, safe_message: str, *, retryable: bool) -> None:
        super().__init__(safe_message)
        self.safe_message = safe_message
        self.retryable = retryable


class ApiHttpError(DialogError):
    """A non-2xx response, decoded from the `ApiError` envelope as far as it goes."""

    kind = "http"

    def __init__(
        self,
        status: int,
        code: str | None = None,
        *,
        params: list[FieldError] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        server_message: str | None = None,
    ) -> None:
        message = http_safe_message(status, code)
        if message == _HTTP_CODE_MESSAGES["validation"] and not params:
            # No field named: there is nothing highlighted to check (a chat message, say).
            message = _VALIDATION_WITHOUT_FIELDS
        super().__init__(message, retryable=status in RETRYABLE_STATUSES)
        self.status = status
        self.code = code
        self.params = params or []
        self.request_id = request_id
        self.retry_after = retry_after
        self.server_message = server_message

    @property
    def is_unauthorized(self) -> bool:
        return self.status == 401 or self.code == "unauthorized"

    def __repr__(self) -> str:
        return (
            f"ApiHttpError(status={self.status}, code={self.code!r}, "
            f"request_id={self.request_id!r})"
        )


KEY_REJECTED_MESSAGE: Final = (
    "The API key was not accepted for this chatbot. Run `dialogtui login` to enter a valid key."
)


class KeyRejectedError(ApiHttpError):
    """`/auth` refused the API key (401): wrong, revoked, or for another bot. A new
    conversation cannot help; only a different key can (`dialogtui login`)."""

    kind = "key_rejected"

    def __init__(self, status: int = 401, *, request_id: str | None = None) -> None:
        super().__init__(status, "key_rejected", request_id=request_id)
        self.safe_message = KEY_REJECTED_MESSAGE
        self.args = (KEY_REJECTED_MESSAGE,)

    @property
    def is_unauthorized(self) -> bool:
        return True


class StreamError(DialogError):
    """The terminal `error` event of a 200 stream. Retryable only if the server said so."""

    kind = "stream"

    def __init__(self, code: str, *, retryable: bool, server_message: str | None = None) -> None:
        super().__init__(stream_safe_message(code, retryable), retryable=retryable)
        self.code = code
        self.server_message = server_message

    def __repr__(self) -> str:
        return f"StreamError(code={self.code!r}, retryable={self.retryable})"


class TransportError(DialogError):
    """No usable answer: the connection failed, timed out or dropped."""

    kind = "transport"
    default_message = "Could not reach the chatbot. Check your connection and try again."

    def __init__(self, safe_message: str | None = None, *, retryable: bool = True) -> None:
        super().__init__(safe_message or self.default_message, retryable=retryable)


class ConnectError(TransportError):
    kind = "connect"
    default_message = "Could not reach the chatbot. Check your connection and try again."


class RequestTimeout(TransportError):
    """The server took too long: to accept, to answer, or between two stream events."""

    kind = "timeout"
    default_message = "The chatbot took too long to answer. Please try again."

    def __init__(self, safe_message: str | None = None, *, phase: str = "read") -> None:
        super().__init__(safe_message)
        self.phase = phase


class StreamInterrupted(TransportError):
    """The stream ended without `done` or `error`: the reply is incomplete."""

    kind = "interrupted"
    default_message = "The reply was cut off before it finished."


class ProtocolError(TransportError):
    """A 2xx answer this client cannot read (wrong content type, undecodable body)."""

    kind = "protocol"
    default_message = "The chatbot sent an answer this app could not read."

    def __init__(self, safe_message: str | None = None) -> None:
        super().__init__(safe_message, retryable=False)


class InsecureTransportError(DialogError):
    """Refusing to send a secret over plain HTTP to a non-loopback host."""

    kind = "insecure"

    def __init__(self) -> None:
        super().__init__(
            "Refusing to send credentials over plain HTTP. Use an https:// address "
            "(plain http is only allowed for 127.0.0.1 and ::1).",
            retryable=False,
        )


class MissingCredentialsError(DialogError):
    kind = "credentials"

    def __init__(self, safe_message: str | None = None) -> None:
        super().__init__(
            safe_message
            or "No API key or visitor token is configured. Run `dialogtui login` first.",
            retryable=False,
        )


def http_safe_message(status: int, code: str | None) -> str:
    if code in _HTTP_CODE_MESSAGES:
        return _HTTP_CODE_MESSAGES[code]
    if status in _HTTP_STATUS_MESSAGES:
        return _HTTP_STATUS_MESSAGES[status]
    if 500 <= status < 600:
        return _SERVER_ERROR_MESSAGE
    return GENERIC_MESSAGE


def stream_safe_message(code: str, retryable: bool) -> str:
    base = _STREAM_CODE_MESSAGES.get(code, _STREAM_FALLBACK)
    advice = " Please try again." if retryable else " Try rephrasing, or start a new conversation."
    return base + advice
