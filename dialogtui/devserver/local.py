"""The built-in server as `--demo` uses it: a socket bound at once, the server started later.

Light on purpose (no Starlette, no uvicorn): the demo's URL is known, and connections wait
in the socket's backlog, from the moment the socket listens; the server itself starts on a
thread when the first session opens, after the app's first frame.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .app import DevServerConfig
    from .server import DevServer

logger = logging.getLogger(__name__)

DEMO_API_KEY = "demo-key"
DEMO_CHATBOT_ID = "demo"


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; a busy port is a plain OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP explicitly: asyncio only disables Nagle on accepted sockets whose
    # proto says TCP, and socket.create_server() leaves it 0, which costs every keep-alive
    # request a 40 ms delayed-ACK stall between the headers and the body.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class DeferredServer:
    """A `DevServer` on a socket bound now, started in the background by `start()`.

    `start()` returns at once: a thread imports the server and serves the socket, and a
    request sent meanwhile waits in the backlog. If the server cannot start, the socket is
    closed, so such a request fails promptly instead of waiting out its timeout.
    """

    def __init__(
        self,
        config: DevServerConfig | None = None,
        *,
        scenario: str = "ok",
        delta_delay: float = 0.0,
        host: str = "127.0.0.1",
    ) -> None:
        self._config = config
        self._scenario = scenario
        self._delta_delay = delta_delay
        self.host = host
        self._sock: socket.socket | None = bind(host, 0)
        self.port: int = self._sock.getsockname()[1]
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._server: DevServer | None = None
        self._stopping = False
        self.error: BaseException | None = None

    @property
    def base_url(self) -> str:
        return url(self.host, self.port)

    def start(self) -> None:
        with self._lock:
            if self._thread is not None or self._sock is None:
                return
            self._thread = threading.Thread(
                target=self._start, name="dialogtui-devserver-start", daemon=True
            )
            self._thread.start()

    def _start(self) -> None:
        sock = self._sock
        assert sock is not None
        try:
            from .app import DevServerConfig
            from .server import DevServer

            config = self._config or DevServerConfig(
                scenario=self._scenario, delta_delay=self._delta_delay
            )
            server = DevServer(config, host=self.host, port=self.port)
            with self._lock:
                if self._stopping:
                    raise RuntimeError("stopped before it started")
                self._server = server
            server.start(sock=sock)
        except BaseException as exc:
            # Not raised: a thread's traceback would land on the app's screen.
            self.error = exc
            sock.close()
            # The person sees "cannot connect"; the log says why.
            logger.error("the built-in server did not start", exc_info=exc)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            thread, sock = self._thread, self._sock
            self._sock = None
        if thread is None:
            if sock is not None:
                sock.close()
            return
        thread.join()
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> DeferredServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
