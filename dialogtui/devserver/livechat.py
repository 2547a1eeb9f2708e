"""The dev server's live-chat desk: a human agent takes a conversation over from the bot.

The routes of the vendor's live chat (`/livechat/*`, the waiting-room form) in the SDK's
shapes, with an agent on the other side: a scripted one (joins after a short wait, types,
answers, closes when the visitor says goodbye) or a person at `dialogtui serve --agent`.

The script runs on the desk's clock, read whenever a request comes (no timers): a test makes
it faster with `settings.speed`. Faults (`settings.fault`) play what a client must survive:
live chat offline, a session already active, state answers out of order, the agent leaving,
polling errors. Like app.py, this knows nothing of the client package.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import content
from .scenarios import HttpFailure, api_error, internal_error, validation_error

JSON = dict[str, Any]

FAULTS: dict[str, str] = {
    "offline": "live chat is offline: the config says so, a handover answers 409",
    "already_active": "a handover answers 409: a session is already active",
    "out_of_order": "every other state answer is an older one (a smaller state_version)",
    "agent_leaves": "the agent closes the chat right after the greeting",
    "polling_errors": "the first few state and message polls after a handover answer 500",
    "send_fails": "the visitor's messages to the agent answer 500 (nothing is delivered)",
}
POLLING_ERRORS = 3
"""Polls that fail under `polling_errors` before the desk answers again."""

WAITING_FORM_ID = "livechatWaiting"
WAITING_FORM: JSON = {
    "form_id": WAITING_FORM_ID,
    "name": "Waiting contact",
    "trigger": "livechat_waiting",
    "fields": [
        {"key": "email", "label": "Email", "type": "email", "required": False},
        {"key": "order_number", "label": "Order number", "type": "text", "required": False},
    ],
    "min_filled_fields": 1,
}
AGENT: JSON = {
    "agent_id": "00000000-0000-4000-8000-0000000000a1",
    "display_name": "Alice Jensen",
    "avatar_url": None,
}
MAX_SESSIONS = 1000
MAX_MESSAGES = 10_000
_GOODBYE = re.compile(r"\b(bye|goodbye|that'?s all)\b", re.IGNORECASE)


@dataclass
class AgentScript:
    """What the scripted agent does, in seconds of the desk's clock."""

    join_after: float = 4.0
    typing_for: float = 2.0
    """How long the agent is seen typing before each message."""


@dataclass
class DeskSettings:
    enabled: bool = True
    availability: str = "live"
    script: AgentScript | None = field(default_factory=AgentScript)
    """None: a person plays the agent (`dialogtui serve --agent`)."""
    fault: str | None = None
    speed: float = 1.0
    """The script's clock runs this many times faster (tests)."""
    attachments: bool = True
    """`config.livechat.attachments_enabled`: the visitor may send the agent files."""
    max_attachment_size: int = 5 * 1024 * 1024
    """`config.livechat.max_attachment_size_bytes` (decoded), kept by `POST /livechat/messages`."""


@dataclass
class Due:
    """An agent message to post at `at` (desk time), typing until then; maybe closing after."""

    at: float
    text: str
    close: bool = False


@dataclass
class LiveSession:
    id: str
    requested_at: float
    source: str
    status: str = "waiting"
    version: int = 1
    agent: JSON | None = None
    typing: bool = False
    joined_at: str | None = None
    closed_at: str | None = None
    closed_by: str | None = None
    feedback: str = "not_available"
    feedback_given: JSON | None = None
    messages: list[JSON] = field(default_factory=list)
    due: list[Due] = field(default_factory=list)
    visitor_typing: bool = False
    form_values: dict[str, str] = field(default_factory=dict)
    polls_to_fail: int = 0
    served: int = 0  # state answers given, for `out_of_order`
    previous: JSON | None = None  # the state before the last change, for `out_of_order`

    def snapshot(self) -> JSON:
        return {
            "environment": "test",
            "status": self.status,
            "platform": "mobile_app",
            "active_agent": self.agent,
            "is_agent_typing": self.typing,
            "language": "english",
            "feedback": {"status": self.feedback, "submitted_at": None},
            "updated_at": content.iso_utc(),
            "agent_joined_at": self.joined_at,
            "closed_at": self.closed_at,
            "closed_by": self.closed_by,
            "close_reason": None,
            "state_version": self.version,
        }

    def changed(self) -> None:
        self.previous = self.snapshot()
        self.version += 1

    def post(self, role: str, text: str, files: list[JSON] | None = None) -> JSON:
        """`files`: the visitor's attachments as history serves them back (`data:` URLs)."""
        message: JSON = {
            "message_id": content.new_id("lc"),
            "role": role,
            "parts": [content._rich(text), *(files or [])],
            "created_at": content.iso_utc(),
            "sequence_number": len(self.messages) + 1,
        }
        if role == "agent":
            message["agent"] = self.agent or AGENT
        self.messages.append(message)
        del self.messages[:-MAX_MESSAGES]
        return message

    def close(self, by: str) -> None:
        self.status = "closed"
        self.closed_by = by
        self.closed_at = content.iso_utc()
        self.typing = False
        self.due.clear()
        self.feedback = "pending"
        self.changed()


Listener = Callable[[str], None]


class LiveDesk:
    """Live-chat sessions by conversation id. Touched from the server's loop and, with
    `serve --agent`, from the thread reading the agent's lines: so, the lock."""

    def __init__(self, settings: DeskSettings | None = None) -> None:
        self.settings = settings or DeskSettings()
        self.sessions: dict[str, LiveSession] = {}
        self.lock = threading.RLock()
        self.on_visitor: Listener | None = None
        """Called with a line for the person playing the agent (what the visitor did)."""
        self._ids = itertools.count(1)

    def reset(self, settings: DeskSettings | None = None) -> None:
        with self.lock:
            self.settings = settings or DeskSettings()
            self.sessions.clear()

    def now(self) -> float:
        return time.monotonic() * self.settings.speed

    def _tell(self, line: str) -> None:
        if self.on_visitor is not None:
            self.on_visitor(line)

    # -- config -------------------------------------------------------------------------------

    @property
    def live(self) -> bool:
        s = self.settings
        return s.enabled and s.availability == "live" and s.fault != "offline"

    def config_block(self) -> JSON:
        live = self.live
        return {
            "enabled": self.settings.enabled,
            "configured": True,
            "availability_status": "live" if live else "offline",
            "availability_reason": "manual_live" if live else "manual_offline",
            "show_livechat_logo": False,
            "attachments_enabled": self.settings.attachments,
            "max_attachment_size_bytes": self.settings.max_attachment_size,
        }

    # -- the script ---------------------------------------------------------------------------

    def advance(self, session: LiveSession) -> None:
        """Apply what the agent has done by now."""
        script = self.settings.script
        if script is None:
            return
        now = self.now()
        if session.status == "waiting" and now >= session.requested_at + script.join_after:
            self._join(session)
            greeting = "Hi, I'm Alice. How can I help?"
            leaves = self.settings.fault == "agent_leaves"
            if leaves:
                greeting = "Hi, I'm Alice. Sorry, I have to go: someone else will help you."
            self._schedule(session, greeting, close=leaves, start=now)
        while session.status == "active" and session.due and now >= session.due[0].at:
            due = session.due.pop(0)
            session.post("agent", due.text)
            session.typing = bool(session.due)
            session.changed()
            if due.close:
                session.close("agent")

    def _join(self, session: LiveSession) -> None:
        session.status = "active"
        session.agent = dict(AGENT)
        session.joined_at = content.iso_utc()
        session.changed()

    def _schedule(self, session: LiveSession, text: str, *, close: bool, start: float) -> None:
        script = self.settings.script
        typing_for = script.typing_for if script is not None else 0.0
        after = session.due[-1].at if session.due else start
        session.due.append(Due(after + typing_for, text, close))
        if not session.typing:
            session.typing = True
            session.changed()

    def _answer(self, session: LiveSession, text: str) -> None:
        if self.settings.script is None:
            return  # the person at `serve --agent` answers
        if _GOODBYE.search(text):
            self._schedule(
                session,
                "Thanks for chatting! I'll close this chat now.",
                close=True,
                start=self.now(),
            )
        else:
            quoted = text if len(text) <= 80 else text[:79] + "…"
            self._schedule(
                session,
                f"Thanks — about “{quoted}”: let me check that for you.",
                close=False,
                start=self.now(),
            )

    # -- the visitor's side (the routes) --------------------------------------------------------

    def handover(self, conversation_id: str, source: str) -> JSON | HttpFailure:
        with self.lock:
            if not self.live:
                return api_error(409, "conflict", "Live chat is currently offline.")
            current = self.sessions.get(conversation_id)
            if self.settings.fault == "already_active" or (
                current is not None and current.status in ("waiting", "active")
            ):
                return api_error(409, "conflict", "A live chat session is already active.")
            while len(self.sessions) >= MAX_SESSIONS:
                self.sessions.pop(next(iter(self.sessions)))
            session = LiveSession(f"ls_{next(self._ids)}", self.now(), source)
            if self.settings.fault == "polling_errors":
                session.polls_to_fail = POLLING_ERRORS
            self.sessions[conversation_id] = session
            self._tell(f"[{session.id}] The visitor asks for a human ({source}).")
            return {"status": "waiting", "livechat_session_id": session.id}

    def state(self, conversation_id: str) -> JSON | HttpFailure:
        with self.lock:
            session = self.sessions.get(conversation_id)
            if session is None:
                return {"status": "inactive", "feedback": {"status": "not_available"}}
            if session.polls_to_fail > 0:
                session.polls_to_fail -= 1
                return internal_error()
            self.advance(session)
            session.served += 1
            stale = self.settings.fault == "out_of_order" and session.served % 2 == 0
            if stale and session.previous is not None:
                return session.previous
            return session.snapshot()

    def messages(self, conversation_id: str, after: int) -> JSON | HttpFailure:
        with self.lock:
            session = self.sessions.get(conversation_id)
            if session is None:
                return {"messages": [], "has_more": False}
            if session.polls_to_fail > 0:
                session.polls_to_fail -= 1
                return internal_error()
            self.advance(session)
            found = [m for m in session.messages if m["sequence_number"] > after]
            return {"messages": found, "has_more": False}

    def visitor_message(
        self, conversation_id: str, text: str, files: list[JSON] | None = None
    ) -> JSON | HttpFailure:
        with self.lock:
            session = self.sessions.get(conversation_id)
            if session is not None:
                self.advance(session)
            if session is None or session.status != "active":
                return api_error(409, "conflict", "No active live chat session.")
            if self.settings.fault == "send_fails":
                return internal_error()
            message = session.post("user", text, files)
            session.visitor_typing = False
            self._tell(f"[{session.id}] visitor: {text}")
            self._answer(session, text)
            return {"message": message, "livechat_session": session.snapshot()}

    def visitor_typing(self, conversation_id: str, typing: bool) -> JSON | HttpFailure:
        with self.lock:
            session = self.sessions.get(conversation_id)
            if session is None or session.status not in ("waiting", "active"):
                return api_error(409, "conflict", "No live chat session.")
            if typing != session.visitor_typing and self.settings.script is None:
                self._tell(f"[{session.id}] visitor {'is typing…' if typing else 'stopped typing'}")
            session.visitor_typing = typing
            return {
                "livechat_session_id": session.id,
                "is_typing": typing,
                "updated_at": content.iso_utc(),
            }

    def visitor_close(self, conversation_id: str) -> JSON | HttpFailure:
        with self.lock:
            session = self.sessions.get(conversation_id)
            if session is None or session.status not in ("waiting", "active"):
                return api_error(409, "conflict", "No live chat session to close.")
            session.close("customer")
            self._tell(f"[{session.id}] The visitor ended the chat.")
            return session.snapshot()

    def feedback(self, conversation_id: str, body: JSON) -> JSON | HttpFailure:
        rating = body.get("rating")
        if type(rating) is not int or not 1 <= rating <= 5:
            return validation_error("rating", "rating must be an integer from 1 to 5")
        comment = body.get("feedback")
        if comment is not None and not isinstance(comment, str):
            return validation_error("feedback", "feedback must be a string")
        with self.lock:
            session = self.sessions.get(conversation_id)
            if session is None or session.status != "closed":
                return api_error(
                    409,
                    "conflict",
                    "A closed livechat session is required before feedback can be submitted",
                )
            if session.feedback == "submitted":
                return api_error(
                    409, "conflict", "Feedback has already been submitted for this livechat session"
                )
            session.feedback = "submitted"
            session.feedback_given = {"rating": rating, "feedback": comment}
            session.changed()
            self._tell(f"[{session.id}] The visitor rated the chat {rating}/5.")
            return {
                "livechat_session_id": session.id,
                "status": "submitted",
                "rating": rating,
                "feedback": comment,
                "submitted_at": content.iso_utc(),
            }

    def save_form_values(self, conversation_id: str, body: JSON) -> JSON | HttpFailure:
        values = body.get("values")
        if not isinstance(values, dict):
            return validation_error("values", "values must be an object")
        with self.lock:
            session = self.sessions.get(conversation_id)
            if session is None or session.status != "waiting":
                return api_error(
                    409,
                    "conflict",
                    "Session form values can only be saved while waiting for an agent",
                )
            for key, value in values.items():
                if isinstance(value, str) and value.strip():
                    session.form_values[str(key)] = value.strip()
            self._tell(f"[{session.id}] waiting-room form: {session.form_values}")
            return {
                "values": [
                    {"key": key, "label": key, "type": "text", "value": value}
                    for key, value in session.form_values.items()
                ]
            }

    def blocks_bot(self, conversation_id: str) -> bool:
        """A bot send while a session is active answers 409, as the vendor's server does."""
        with self.lock:
            session = self.sessions.get(conversation_id)
            if session is None:
                return False
            self.advance(session)
            return session.status == "active"

    # -- the agent's side (`serve --agent`, tests) -------------------------------------------------

    def _open_session(self) -> LiveSession | None:
        """The newest session waiting or active: the one a person at `--agent` talks to."""
        for session in reversed(self.sessions.values()):
            if session.status in ("waiting", "active"):
                return session
        return None

    def agent_says(self, text: str) -> str:
        """A line from the person playing the agent: joins the newest waiting session first.
        Returns what happened, for their terminal."""
        with self.lock:
            session = self._open_session()
            if session is None:
                return "No visitor is waiting or chatting."
            if session.status == "waiting":
                self._join(session)
            session.typing = False
            session.post("agent", text)
            session.changed()
            return f"[{session.id}] sent."

    def agent_typing(self, typing: bool) -> str:
        with self.lock:
            session = self._open_session()
            if session is None or session.status != "active":
                return "No chat to type in."
            session.typing = typing
            session.changed()
            return f"[{session.id}] typing {'on' if typing else 'off'}."

    def agent_closes(self) -> str:
        with self.lock:
            session = self._open_session()
            if session is None:
                return "No chat to close."
            session.close("agent")
            return f"[{session.id}] closed."


# ---------------------------------------------------------------------------------------------
# Routes


def desk_of(app: Starlette) -> LiveDesk:
    desk: LiveDesk = app.state.livechat
    return desk


def install(app: Starlette) -> LiveDesk:
    desk = LiveDesk()
    app.state.livechat = desk
    return desk


def amend_config(app: Starlette, config: JSON) -> JSON:
    """The desk's say in `GET /config`: `livechat` and the waiting-room form."""
    desk = desk_of(app)
    config["livechat"] = desk.config_block()
    forms = [f for f in config.get("forms", []) if f.get("trigger") != "livechat_waiting"]
    forms.append({k: WAITING_FORM[k] for k in ("form_id", "name", "trigger")})
    config["forms"] = forms
    return config


def routes() -> list[Route]:
    # Imported here: app.py imports this module inside `create_app`.
    from .app import (
        Conversation,
        DevServerState,
        bearer_route,
        failure_response,
        read_json_object,
    )

    def answer(result: JSON | HttpFailure) -> Response:
        if isinstance(result, HttpFailure):
            return failure_response(result)
        return JSONResponse(result)

    async def body_of(request: Request) -> JSON | HttpFailure:
        if not (await request.body()).strip():
            return {}
        return await read_json_object(request)

    @bearer_route("POST /livechat/handover")
    async def post_handover(
        request: Request, state: DevServerState, conversation: Conversation
    ) -> Response:
        body = await body_of(request)
        if isinstance(body, HttpFailure):
            return failure_response(body)
        source = body.get("source")
        if source not in ("manual_button", "assistant_marker"):
            return failure_response(
                validation_error("source", "source must be manual_button or assistant_marker")
            )
        return answer(desk_of(request.app).handover(conversation.id, source))

    @bearer_route("GET /livechat/state")
    async def get_state(
        request: Request, state: DevServerState, conversation: Conversation
    ) -> Response:
        return answer(desk_of(request.app).state(conversation.id))

    @bearer_route("GET /livechat/messages")
    async def get_messages(
        request: Request, state: DevServerState, conversation: Conversation
    ) -> Response:
        raw = request.query_params.get("after_sequence_number", "0") or "0"
        if not raw.isdigit():
            return failure_response(
                validation_error("after_sequence_number", "must be a non-negative integer")
            )
        return answer(desk_of(request.app).messages(conversation.id, int(raw)))

    @bearer_route("POST /livechat/messages")
    async def post_message(
        request: Request, state: DevServerState, conversation: Conversation
    ) -> Response:
        body = await body_of(request)
        if isinstance(body, HttpFailure):
            return failure_response(body)
        message = body.get("message")
        parts = message.get("parts") if isinstance(message, dict) else None
        texts = [
            p.get("text") for p in parts or [] if isinstance(p, dict) and p.get("type") == "text"
        ]
        text = next((t for t in texts if isinstance(t, str) and t.strip()), None)
        if text is None:
            return failure_response(
                validation_error("message.parts", "a text part with some text is required")
            )
        files = _visitor_files(desk_of(request.app).settings, parts or [])
        if isinstance(files, HttpFailure):
            return failure_response(files)
        return answer(desk_of(request.app).visitor_message(conversation.id, text, files))

    @bearer_route("POST /livechat/typing")
    async def post_typing(
        request: Request, state: DevServerState, conversation: Conversation
    ) -> Response:
        body = await body_of(request)
        if isinstance(body, HttpFailure):
            return failure_response(body)
        typing = body.get("is_typing")
        if not isinstance(typing, bool):
            return failure_response(validation_error("is_typing", "is_typing must be a boolean"))
        return answer(desk_of(request.app).visitor_typing(conversation.id, typing))

    @bearer_route("POST /livechat/close")
    async def post_close(
        request: Request, state: DevServerState, conversation: Conversation
    ) -> Response:
        return answer(desk_of(request.app).visitor_close(conversation.id))

    @bearer_route("POST /livechat/feedback")
    async def post_feedback(
        request: Request, state: DevServerState, conversation: Conversation
    ) -> Response:
        body = await body_of(request)
        if isinstance(body, HttpFailure):
            return failure_response(body)
        return answer(desk_of(request.app).feedback(conversation.id, body))

    @bearer_route("PATCH /forms/{id}/values")
    async def patch_form_values(
        request: Request, state: DevServerState, conversation: Conversation
    ) -> Response:
        if request.path_params["form_id"] != WAITING_FORM_ID:
            return failure_response(api_error(404, "not_found", "Unknown form."))
        body = await body_of(request)
        if isinstance(body, HttpFailure):
            return failure_response(body)
        return answer(desk_of(request.app).save_form_values(conversation.id, body))

    return [
        Route("/livechat/handover", post_handover, methods=["POST"]),
        Route("/livechat/state", get_state, methods=["GET"]),
        Route("/livechat/messages", get_messages, methods=["GET"]),
        Route("/livechat/messages", post_message, methods=["POST"]),
        Route("/livechat/typing", post_typing, methods=["POST"]),
        Route("/livechat/close", post_close, methods=["POST"]),
        Route("/livechat/feedback", post_feedback, methods=["POST"]),
        Route("/forms/{form_id}/values", patch_form_values, methods=["PATCH"]),
    ]


def _visitor_files(settings: DeskSettings, parts: list[Any]) -> list[JSON] | HttpFailure:
    """A live-chat message's image/file parts, checked as `POST /messages` checks them and
    against the desk's settings (422 when it takes none, 413 over its size), as served back."""
    import base64
    import binascii

    from .attachments_banners import visitor_file_part

    files: list[JSON] = []
    for index, part in enumerate(parts):
        if not isinstance(part, dict) or part.get("type") not in ("image", "file"):
            continue
        where = f"message.parts.{index}"
        if not settings.attachments:
            return validation_error(where, "attachments are not enabled for live chat")
        data, mime = part.get("data"), part.get("mime")
        if not isinstance(data, str) or not isinstance(mime, str) or not mime:
            return validation_error(where, "an attachment needs base64 data and a mime")
        try:
            size = len(base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError):
            return validation_error(where + ".data", "data must be base64")
        if size > settings.max_attachment_size:
            return api_error(413, "payload_too_large", "The attachment is too large.")
        filename = part.get("filename") if isinstance(part.get("filename"), str) else None
        if part["type"] == "image":
            files.append(content.visitor_image_part(mime, data, filename))
        else:
            files.append(visitor_file_part(part))
    return files


def livechat_sessions(app: Starlette, conversation_id: str) -> list[JSON]:
    """`GET /export`'s `livechat_sessions` (the entry's shape is not published; ours holds
    the state, the messages, the waiting-room values and the rating)."""
    desk = desk_of(app)
    with desk.lock:
        session = desk.sessions.get(conversation_id)
        if session is None:
            return []
        return [
            {
                "livechat_session_id": session.id,
                **session.snapshot(),
                "messages": list(session.messages),
                "form_values": dict(session.form_values),
                "feedback_given": session.feedback_given,
            }
        ]


def bot_send_refused(app: Starlette, conversation_id: str) -> HttpFailure | None:
    """`POST /messages` while an agent has the conversation: the vendor's 409."""
    if desk_of(app).blocks_bot(conversation_id):
        return api_error(409, "conflict", "An active livechat session is in progress.")
    return None
