"""A local, real-HTTP implementation of the Dialog Intelligens chat API, with failure scenarios.

Used as the built-in demo (`dialogtui --demo`), as the peer of the test suite, and by
`dialogtui serve` for anyone testing a client. Standalone: it never imports the client.
"""

from __future__ import annotations

from ..lazy import lazy_exports

# Public name -> the module defining it. Loaded on first use: `--demo` binds its socket and
# paints its first frame before Starlette and uvicorn (~0.1 s of imports) are needed.
_EXPORTS: dict[str, str] = {
    "DEMO_API_KEY": "local",
    "DEMO_CHATBOT_ID": "local",
    "SCENARIOS": "scenarios",
    "DevServer": "server",
    "DevServerConfig": "app",
    "ServerStats": "app",
    "create_app": "app",
    "serve": "server",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
