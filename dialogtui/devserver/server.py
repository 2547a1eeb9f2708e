"""Running the dev server: in a background thread (`DevServer`, for tests and `--demo`) or as a
coroutine (`serve`, for `dialogtui serve`). Both bind the socket themselves, so a busy port is a
plain OSError and the real port of `port=0` is known before uvicorn starts."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.config import LOGGING_CONFIG

from .app import DeliberateDrop, DevServerConfig, DevServerState, ServerStats, app_state, create_app
from .local import bind as _bind
from .local import url as _url

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0  # a backstop: stop() normally returns in a few hundred milliseconds


class _Server(uvicorn.Server):
    """uvicorn.Server that releases hung and slow handlers the moment shutdown begins, so they
    end at once instead of waiting out timeout_graceful_shutdown."""

    def __init__(self, config: uvicorn.Config, state: DevServerState) -> None:
        super().__init__(config)
        self._devserver_state = state

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._devserver_state.release_all()
        await super().shutdown(sockets)


class _HideDeliberateDrops(logging.Filter):
    """uvicorn logs every exception escaping the app; the drop scenarios raise on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and _is_deliberate(record.exc_info[1]))


def _is_deliberate(exc: BaseException | None) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_deliberate(inner) for inner in exc.exceptions)
    return isinstance(exc, DeliberateDrop)


def _install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideDeliberateDrops) for f in logger.filters):
        logger.addFilter(_HideDeliberateDrops())


def _uvicorn_config(app: Any, log_config: dict[str, Any] | None, log_level: str) -> uvicorn.Config:
    config = uvicorn.Config(
        app,
        log_config=log_config,
        log_level=log_level,
        access_log=False,  # noise, and request lines are nobody's business
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=1,
    )
    _install_log_filter()  # after Config, which (re)configures logging
    return config


class DevServer:
    """Runs the app with uvicorn on 127.0.0.1 in a background thread (own event loop).

    `config` is live: tests may set `server.config.scenario = "..."` between requests.
    uvicorn's loggers are not configured here (no handlers are added), so a TUI hosting the
    demo server does not get log lines scribbled over its screen.
    """

    def __init__(
        self, config: DevServerConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.app = create_app(config)
        self._state = app_state(self.app)
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def config(self) -> DevServerConfig:
        return self._state.config

    @config.setter
    def config(self, config: DevServerConfig) -> None:
        self._state.config = config

    @property
    def stats(self) -> ServerStats:
        return self._state.stats

    @property
    def base_url(self) -> str:
        """e.g. "http://127.0.0.1:54321": no trailing slash, no /api/v1/chat."""
        return _url(self.host, self.port)

    def start(self, *, sock: socket.socket | None = None) -> DevServer:
        """Blocks until the server is listening. Raises OSError if the port is taken.

        `sock`: a listening socket to serve (see `local.DeferredServer`); closed with the server.
        """
        if self._thread is not None:
            raise RuntimeError("DevServer already started")
        if sock is None:
            sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._state.rearm()
        server = _Server(
            _uvicorn_config(self.app, log_config=None, log_level="warning"), self._state
        )
        thread = threading.Thread(
            target=self._run, args=(server, sock), name="dialogtui-devserver", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dev server did not start on {self.base_url}") from self._error
            time.sleep(0.005)
        return self

    def _run(self, server: _Server, sock: socket.socket) -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:
            self._error = exc
        finally:
            sock.close()

    def stop(self) -> None:
        """Graceful but prompt: hung and slow streams are cut, idle connections closed."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        if thread.is_alive():
            server.force_exit = True
            thread.join(STOP_TIMEOUT)
        self._server = self._thread = None

    def reset_stats(self) -> None:
        """Zero the counters and forget flaky/rate_limited_once/expired_token progress.
        Call between requests, not during one."""
        self._state.stats.reset()
        self._state.reset_scenario_memory()

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def serve(
    config: DevServerConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    on_ready: Callable[[str], None] | None = None,
    log_level: str = "warning",
    on_app: Callable[[Starlette], None] | None = None,
) -> None:
    """Serve until cancelled (or until uvicorn handles Ctrl-C when run on the main thread).

    `on_ready(base_url)` is called once listening, with the real port when `port` is 0.
    A busy port raises OSError before anything starts. uvicorn's own logging setup is used:
    this is a standalone server whose errors should reach the terminal.
    """
    sock = _bind(host, port)
    app = create_app(config)
    if on_app is not None:  # e.g. `serve --agent` wires the live-chat desk to the terminal
        on_app(app)
    server = _Server(
        _uvicorn_config(app, log_config=LOGGING_CONFIG, log_level=log_level), app_state(app)
    )
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        while not server.started and not task.done():
            await asyncio.sleep(0.005)
        if server.started and on_ready is not None:
            on_ready(_url(host, sock.getsockname()[1]))
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        await asyncio.shield(task)  # let uvicorn finish its (prompt) shutdown before we return
        raise
    finally:
        sock.close()
