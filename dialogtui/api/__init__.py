"""The Dialog Intelligens chat API: client, wire models, errors, retry policy, tracing.

No UI code lives here (and no Textual import): the CLI, the TUI and tests all build on it.
"""

from __future__ import annotations

from ..lazy import lazy_exports

# Public name -> the module defining it. Loaded on first use, so importing `dialogtui.api.models`
# (the store, the UI's renderer) does not also import the HTTP client and httpx.
_EXPORTS: dict[str, str] = {
    # .assembler
    "Change": "assembler",
    "EVERYTHING": "assembler",
    "ReplyAssembler": "assembler",
    # .client
    "API_PREFIX": "client",
    "CLIENT_PROFILE_HEADER": "client",
    "DialogClient": "client",
    "forget_rejected_keys": "client",
    "parse_api_error": "client",
    # .errors
    "ApiHttpError": "errors",
    "ConnectError": "errors",
    "DialogError": "errors",
    "InsecureTransportError": "errors",
    "KeyRejectedError": "errors",
    "MissingCredentialsError": "errors",
    "ProtocolError": "errors",
    "RequestTimeout": "errors",
    "StreamError": "errors",
    "StreamInterrupted": "errors",
    "TransportError": "errors",
    # .models
    "ActionResult": "models",
    "Config": "models",
    "DoneEvent": "models",
    "FieldError": "models",
    "MalformedEvent": "models",
    "Message": "models",
    "Part": "models",
    "PartDeltaEvent": "models",
    "PartEvent": "models",
    "StatusEvent": "models",
    "StreamErrorEvent": "models",
    "StreamEvent": "models",
    "UnknownEvent": "models",
    "decode_event": "models",
    # .retry
    "DEFAULT_POLICIES": "retry",
    "Operation": "retry",
    "RetryPolicy": "retry",
    # .sse
    "SSEGuard": "sse",
    "ServerSentEvent": "sse",
    # .timeouts
    "Timeouts": "timeouts",
    # .trace
    "LOGGER_NAME": "trace",
    "REQUEST_ID_HEADERS": "trace",
    "LogObserver": "trace",
    "RedactingFilter": "redaction",
    "RequestFinished": "trace",
    "RequestStarted": "trace",
    "ResponseReceived": "trace",
    "RetryScheduled": "trace",
    "SseEvent": "trace",
    "TraceEvent": "trace",
    "redact": "redaction",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
