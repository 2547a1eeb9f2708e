"""Attachments and banners on the main screen.

- `PendingAttachments`: the files that go with the next message, one line above the composer
  (a click, or F5 then "Remove all", takes them off);
- `AttachScreen`: the path picker F5 opens: a path typed or pasted, or a file chosen in the
  folder tree. When the bot's newest reply asks for a photo (`request_image_upload`) it says
  what the bot accepts, and the file is checked against that;
- `BannerStrip`: the server's banners for the current page above the transcript, each
  dismissible if the banner says so (hidden until its content changes, as the SDK does).

Files are read and checked by `dialogtui.attachments` (no httpx here).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Label, Static

from ..text import sanitize_line

if TYPE_CHECKING:
    from ..api.models import ImageUploadPart, Part
    from ..api.page_models import Banner, FormDefinition, SessionState
    from ..attachments import Attachment


# ---------------------------------------------------------------------------------------------
# Pending attachments


class PendingAttachments(Static):
    """The files the next message carries; hidden while there are none."""

    DEFAULT_CSS = """
    PendingAttachments {
        height: auto;
        padding: 0 1;
        color: $text;
        background: $boost;
        display: none;
    }
    PendingAttachments.-shown {
        display: block;
    }
    """

    class Cleared(Message):
        """The person took the attachments off (a click on the line)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.files: list[Attachment] = []

    def set_files(self, files: list[Attachment]) -> None:
        self.files = list(files)
        self.set_class(bool(self.files), "-shown")
        if self.files:
            names = " · ".join(f.describe() for f in self.files)
            self.update(Content(f"📎 {names}  (sent with your next message; click to remove)"))
        else:
            self.update("")

    def on_click(self) -> None:
        if self.files:
            self.set_files([])
            self.post_message(self.Cleared())


# ---------------------------------------------------------------------------------------------
# The path picker


@dataclass(frozen=True, slots=True)
class AttachRequest:
    """What the picker hands back: a path to attach, or the pending files to clear."""

    path: str | None = None
    clear: bool = False


def prompt_text(prompt: ImageUploadPart) -> str:
    from ..plaintext import upload_prompt_text

    return upload_prompt_text(prompt).removeprefix("[upload] ")


class AttachScreen(ModalScreen[AttachRequest | None]):
    """Pick a file to send with the next message: type or paste its path (Enter), or choose
    it in the tree. Esc closes without attaching."""

    DEFAULT_CSS = """
    AttachScreen {
        align: center middle;
    }
    AttachScreen > Vertical {
        width: 80;
        max-width: 95%;
        height: 80%;
        border: thick $accent;
        background: $surface;
        padding: 1 2;
    }
    AttachScreen DirectoryTree {
        height: 1fr;
        margin-top: 1;
    }
    AttachScreen #prompt {
        color: $warning;
    }
    AttachScreen Horizontal {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    AttachScreen Horizontal Button {
        margin-left: 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(
        self,
        start: Path,
        *,
        prompt: ImageUploadPart | None = None,
        pending: int = 0,
    ) -> None:
        super().__init__()
        self._start = start
        self._prompt = prompt
        self._pending = pending

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Attach a file to your next message (images go as photos).")
            if self._prompt is not None:
                yield Label(f"📤 {prompt_text(self._prompt)}", id="prompt")
            yield Input(placeholder="a path, e.g. ~/Pictures/receipt.jpg", id="path")
            yield DirectoryTree(self._start, id="tree")
            with Horizontal():
                if self._pending:
                    yield Button(f"Remove all ({self._pending})", id="clear")
                yield Button("Cancel", id="cancel")
                yield Button("Attach", variant="primary", id="attach")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    @on(DirectoryTree.FileSelected)
    def _file_chosen(self, event: DirectoryTree.FileSelected) -> None:
        self.query_one("#path", Input).value = str(event.path)
        self._attach_path()

    @on(Input.Submitted, "#path")
    @on(Button.Pressed, "#attach")
    def _attach_path(self) -> None:
        path = self.query_one("#path", Input).value.strip()
        if path:
            self.dismiss(AttachRequest(path=path))
        else:
            self.notify("Type a path, or choose a file in the tree.", severity="warning")

    @on(Button.Pressed, "#clear")
    def _clear(self) -> None:
        self.dismiss(AttachRequest(clear=True))

    @on(Button.Pressed, "#cancel")
    def action_close(self) -> None:
        self.dismiss(None)


# ---------------------------------------------------------------------------------------------
# Banners


class BannerLine(Horizontal):
    """One banner: its message, its link, and × when it may be dismissed."""

    DEFAULT_CSS = """
    BannerLine {
        height: auto;
        padding: 0 1;
        background: $primary 30%;
    }
    BannerLine > .message {
        width: 1fr;
        height: auto;
    }
    BannerLine > Button {
        min-width: 5;
        width: 5;
        height: 1;
        border: none;
        margin: 0;
    }
    """

    class Dismissed(Message):
        def __init__(self, banner: Banner) -> None:
            super().__init__()
            self.banner = banner

    def __init__(self, banner: Banner) -> None:
        super().__init__(classes="banner")
        self.banner = banner

    def compose(self) -> ComposeResult:
        from rich.style import Style
        from rich.text import Text

        banner = self.banner
        text = Text(sanitize_line(banner.message))
        cta = banner.cta
        if cta is not None:
            label, url = cta
            # A link the terminal can open (OSC 8); plain text where it cannot.
            bold = banner.cta_style == "button"
            text.append("  ")
            text.append(f"{sanitize_line(label)} ↗", Style(link=url, underline=True, bold=bold))
        yield Static(text, classes="message")
        if banner.dismissible:
            yield Button("×", id="dismiss", tooltip="Dismiss this banner", compact=True)

    def on_mount(self) -> None:
        colors = [self.banner.background_color, self.banner.text_color]
        from textual.color import Color, ColorParseError

        try:
            if colors[0]:
                self.styles.background = Color.parse(colors[0])
            if colors[1]:
                self.styles.color = Color.parse(colors[1])
        except ColorParseError:
            pass  # a colour this terminal cannot take: the theme's stays

    @on(Button.Pressed, "#dismiss")
    def _dismiss(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Dismissed(self.banner))


class BannerStrip(VerticalScroll):
    """The banners for the page, above the transcript; hidden while there are none."""

    DEFAULT_CSS = """
    BannerStrip {
        height: auto;
        max-height: 6;
        display: none;
    }
    BannerStrip.-shown {
        display: block;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.banners: list[Banner] = []
        self.dismissed: set[str] = set()
        """Fingerprints of dismissed banners (the SDK: hidden until the content changes)."""

    @property
    def shown(self) -> list[Banner]:
        return [b for b in self.banners if b.fingerprint not in self.dismissed]

    def set_banners(self, banners: list[Banner]) -> None:
        self.banners = list(banners)
        self._show()

    def _show(self) -> None:
        self.remove_children()
        shown = self.shown
        self.set_class(bool(shown), "-shown")
        if shown:
            self.mount_all(BannerLine(b) for b in shown)

    @on(BannerLine.Dismissed)
    def _dismissed(self, event: BannerLine.Dismissed) -> None:
        self.dismissed.add(event.banner.fingerprint)
        self._show()


def upload_prompt_of(parts: list[Part]) -> ImageUploadPart | None:
    """The photo request among a reply's parts (the last one), if any."""
    from ..api.models import ImageUploadPart

    found = [p for p in parts if isinstance(p, ImageUploadPart)]
    return found[-1] if found else None


def sent_parts(text: str, files: list[Attachment]) -> list[Part]:
    """A user turn as the transcript shows it: the text, then each file as history would
    serve it back (described, its bytes never printed)."""
    from ..api.models import FilePart, ImagePart, TextPart

    parts: list[Part] = [TextPart(text=text)]
    for file in files:
        url = f"data:{file.mime};base64,"  # inline: described by its type and size only
        if file.kind == "image":
            parts.append(
                ImagePart(url=url, caption=file.filename, mime_type=file.mime, size_bytes=file.size)
            )
        else:
            parts.append(
                FilePart(url=url, filename=file.filename, mime_type=file.mime, size_bytes=file.size)
            )
    return parts


def session_text(state: SessionState | None, forms: list[tuple[str, FormDefinition | str]]) -> str:
    """The visitor's session values and the bot's form definitions, for the inspector's
    detail pane (`GET /session`, `GET /forms/{id}`). A form that could not be fetched shows
    why."""
    from ..plaintext import field_summary

    lines = ["Session values (GET /session)"]
    if state is None:
        lines.append("  (not available from this server)")
    elif not state.values:
        lines.append("  (none yet: forms the visitor fills add them)")
    for value in state.values if state is not None else []:
        label = sanitize_line(value.label or value.key)
        kind = f" [{sanitize_line(value.type)}]" if value.type else ""
        lines.append(f"  {label} ({sanitize_line(value.key)}){kind}: {sanitize_line(value.value)}")
        if value.updated_at:
            lines.append(f"      updated {sanitize_line(value.updated_at)}")
    lines.append("")
    lines.append("Form definitions (GET /forms/{form_id})")
    if not forms:
        lines.append("  (no form in the config or in this conversation)")
    for form_id, definition in forms:
        if isinstance(definition, str):
            lines.append(f"  {sanitize_line(form_id)}: {definition}")
            continue
        name = sanitize_line(definition.name or definition.form_id)
        lines.append(f"  {name} ({sanitize_line(definition.form_id)})")
        lines.append(f"      fields: {field_summary(definition.fields) or '(none)'}")
        if definition.min_filled_fields:
            lines.append(f"      fill at least {definition.min_filled_fields}")
    return "\n".join(lines)


def attach_start_folder() -> Path:
    """Where the tree opens: the working folder, else the home folder."""
    here = Path.cwd()
    return here if here.is_dir() else Path.home()


__all__ = [
    "AttachRequest",
    "AttachScreen",
    "BannerStrip",
    "PendingAttachments",
    "attach_start_folder",
]
