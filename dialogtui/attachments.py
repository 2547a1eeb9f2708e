"""Files a visitor sends: read, typed and checked here, before anything goes on the wire.

One rule for every front-end (`send --attach`, `run` scripts, the app's attach key, a path
dropped into the composer, the upload prompt, forms' file fields, the support ticket):

- the file is read with the bounded reader (`inputs`), never more than its limit;
- its MIME type comes from its first bytes (a photo named `.txt` is still a JPEG), then from
  its name, then `application/octet-stream`;
- its size is checked against the limit in force: the SDK's (5 MiB decoded for a message part,
  2 MiB for an `/actions` attachment) or the server's tighter one (`max_size_bytes` of an
  upload prompt, `max_attachment_size_bytes` of a support ticket or of live chat);
- on the wire it is bare base64 (no `data:` prefix) in the SDK's two shapes: a message part
  `{"type": "image"|"file", "data", "mime", "filename"?}` and an `/actions` attachment
  `{"filename", "mime_type", "data_base64"}`.

A refused file raises `AttachmentError` (an `InputError`: exit code 2 in the CLI) with one
sentence naming the file and why, so nothing is sent and nothing is recorded.
"""

from __future__ import annotations

import base64
import mimetypes
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from .inputs import InputError, read_binary
from .text import sanitize_line

MESSAGE_MAX_BYTES: Final = 5 * 1024 * 1024
"""Decoded size of one image/file part of `POST /messages` (the SDK: `@maxLength(6990508)`
base64 characters, 5 MiB to within a byte)."""
MESSAGE_MAX_ENCODED: Final = 6_990_508
ACTION_MAX_BYTES: Final = 2 * 1024 * 1024
"""Decoded size of one `/actions` attachment (support ticket, form file field)."""
ACTION_MAX_ENCODED: Final = 2_796_203
MAX_ATTACHMENTS: Final = 8
"""Attachments on one message: the SDK's composer holds at most 8 photos."""
IMAGE_TYPES: Final = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
"""Sent as an `image` part (the bot sees it); any other type goes as a `file` part."""
FALLBACK_FILENAME: Final = "attachment.jpg"
"""The SDK's name for an `/actions` attachment built without one (the field is required)."""

Kind = Literal["image", "file"]


class AttachmentError(InputError):
    """A file that cannot be attached; `safe_message` names it and says why."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """One file read and checked, ready to send."""

    filename: str
    mime: str
    data: bytes

    @property
    def kind(self) -> Kind:
        return "image" if self.mime in IMAGE_TYPES else "file"

    @property
    def size(self) -> int:
        return len(self.data)

    def encoded(self) -> str:
        """Bare base64, as the API takes it."""
        return base64.b64encode(self.data).decode("ascii")

    def message_part(self) -> dict[str, Any]:
        """The part of `POST /messages` (and `POST /livechat/messages`)."""
        part: dict[str, Any] = {"type": self.kind, "data": self.encoded(), "mime": self.mime}
        if self.filename:
            part["filename"] = self.filename
        return part

    def action_attachment(self) -> dict[str, str]:
        """An `/actions` `Attachment`: a ticket's `attachments[]`, a form's `files[key]`."""
        return {
            "filename": self.filename or FALLBACK_FILENAME,
            "mime_type": self.mime,
            "data_base64": self.encoded(),
        }

    def describe(self) -> str:
        """One line for a person: `photo.jpg (image/jpeg, 12 KB)`."""
        return f"{sanitize_line(self.filename) or 'unnamed'} ({self.mime}, {human_size(self.size)})"


def human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"


def sniff_mime(data: bytes, filename: str = "") -> str:
    """The MIME type from the first bytes, then from the name; `application/octet-stream`."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    # A name that claims an image the bytes do not show is not trusted as one.
    if guessed and not guessed.startswith("image/"):
        return guessed
    return "application/octet-stream"


def clean_path(text: str) -> str:
    """A path as a terminal drops or pastes it: surrounding quotes, a `file://` URL,
    backslash-escaped spaces, `~`."""
    path = text.strip()
    if len(path) >= 2 and path[0] == path[-1] and path[0] in "'\"":
        path = path[1:-1]
    if path.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        path = unquote(urlsplit(path).path)
    elif "\\ " in path and os.sep == "/":
        path = path.replace("\\ ", " ")
    return os.path.expanduser(path)


def dropped_file(text: str) -> str | None:
    """The path in `text` when it is one line naming an existing file (a file dropped on the
    terminal arrives as pasted text), else None: then it is just text."""
    if "\n" in text.strip() or not text.strip() or len(text) > 4096:
        return None
    path = clean_path(text)
    return path if os.path.isfile(path) else None


def load(
    path: str,
    *,
    limit: int = MESSAGE_MAX_BYTES,
    accepted: Iterable[str] | None = None,
    limit_source: str = "",
) -> Attachment:
    """Read file `path` and check it: at most `limit` bytes (`limit_source` says whose limit,
    e.g. "the server's limit"), of one of the `accepted` MIME types if given. Raises
    `AttachmentError`."""
    label = sanitize_line(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        raise AttachmentError(f"Cannot attach {label}: {reason}.") from None
    import stat

    if stat.S_ISDIR(info.st_mode):
        raise AttachmentError(f"Cannot attach {label}: it is a directory.")
    whose = f" ({limit_source})" if limit_source else ""
    too_large = (
        f"Cannot attach {label}: it is {{size}}; the most one attachment may be is "
        f"{human_size(limit)}{whose}."
    )
    if stat.S_ISREG(info.st_mode) and info.st_size > limit:
        raise AttachmentError(too_large.format(size=human_size(info.st_size)))
    try:
        data = read_binary(path, f"attachment {label}", limit=limit)
    except InputError as exc:
        message = exc.safe_message
        if "larger than" in message:  # a pipe or a file that grew: the bounded read said so
            message = too_large.format(size=f"more than {human_size(limit)}")
        raise AttachmentError(message) from None
    if not data:
        raise AttachmentError(f"Cannot attach {label}: the file is empty.")
    filename = os.path.basename(path)
    attachment = Attachment(filename, sniff_mime(data, filename), data)
    if accepted is not None:
        check_accepted(attachment, accepted)
    return attachment


def check_accepted(attachment: Attachment, accepted: Iterable[str]) -> None:
    types = [t.strip().lower() for t in accepted if t.strip()]
    if types and not any(_matches(attachment.mime, t) for t in types):
        raise AttachmentError(
            f"Cannot attach {sanitize_line(attachment.filename)}: it is {attachment.mime}; "
            f"this accepts {', '.join(types)}."
        )


def _matches(mime: str, accepted: str) -> bool:
    if accepted.endswith("/*"):
        return mime.startswith(accepted[:-1])
    return mime == accepted


def load_all(
    paths: Sequence[str], *, limit: int = MESSAGE_MAX_BYTES, limit_source: str = ""
) -> tuple[Attachment, ...]:
    """Several files for one message, each checked; at most `MAX_ATTACHMENTS`."""
    check_count(len(paths))
    return tuple(load(p, limit=limit, limit_source=limit_source) for p in paths)


def check_count(count: int) -> None:
    if count > MAX_ATTACHMENTS:
        raise AttachmentError(f"{count} attachments: a message carries at most {MAX_ATTACHMENTS}.")


def check_size(attachment: Attachment, limit: int, limit_source: str = "") -> None:
    """Refuse an attachment already read when a tighter limit applies (the server's)."""
    if attachment.size > limit:
        whose = f" ({limit_source})" if limit_source else ""
        raise AttachmentError(
            f"Cannot attach {sanitize_line(attachment.filename)}: it is "
            f"{human_size(attachment.size)}; the most one attachment may be is "
            f"{human_size(limit)}{whose}."
        )
