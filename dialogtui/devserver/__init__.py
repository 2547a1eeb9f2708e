"""A local, real-HTTP implementation of the Dialog Intelligens chat API, with failure scenarios.

Used as the built-in demo (`dialogtui --demo`), as the peer of the test suite, and by
`dialogtui serve` for anyone testing a client. Standalone: it never imports the client.
"""

from .app import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServerConfig, ServerStats, create_app
from .scenarios import SCENARIOS
from .server import DevServer, serve

__all__ = [
    "DEMO_API_KEY",
    "DEMO_CHATBOT_ID",
    "SCENARIOS",
    "DevServer",
    "DevServerConfig",
    "ServerStats",
    "create_app",
    "serve",
]
