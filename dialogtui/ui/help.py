"""F1 (or `?` in an empty composer): every key with what it does, made from the bindings of
the app, the screen and the widgets on it, so the list cannot go stale."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from typing import Any

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from .textual_hooks import bindings_of

# Keys handled in code rather than by a binding: listed here so the help has them too.
EXTRA_KEYS: tuple[tuple[str, str, str], ...] = (
    ("Message box", "enter", "Send the message"),
    ("Message box", "ctrl+j", "New line (also Shift+Enter where the terminal reports it)"),
    ("Message box", "up,down", "Earlier / later sent messages (in an empty box)"),
    ("Message box", "?", "This help (in an empty box)"),
    ("Message box", "paste a path", "A file's path pasted (or dropped) attaches the file, as F5"),
    ("Anywhere", "any letter", "Typed into the message box, wherever the focus is"),
    ("Transcript", "mouse drag", "Select text; double-click a word, triple-click a block"),
    ("Transcript", "ctrl+c", "Copy the selection"),
    ("Transcript", "home,end", "Top / bottom of the conversation"),
)


def describe_key(key: str) -> str:
    return " / ".join(
        "+".join(part.capitalize() if len(part) > 1 else part.upper() for part in choice.split("+"))
        for choice in key.split(",")
    )


def _own_bindings(widget: DOMNode) -> Iterator[Binding]:
    """The bindings our own classes declare for a widget (Textual's editors keep their usual
    keys: arrows, Home, End…, which the help does not repeat)."""
    for cls in type(widget).__mro__:
        if cls.__module__.startswith("dialogtui") and "BINDINGS" in vars(cls):
            for binding in vars(cls)["BINDINGS"]:
                if isinstance(binding, Binding):
                    yield binding


def key_rows(screen: Screen[object]) -> list[tuple[str, str, str]]:
    """(where, keys, what) for every described binding of the app, the screen and our
    widgets on it, plus `EXTRA_KEYS`: one row per action and place."""
    app: App[Any] = screen.app
    sources: list[tuple[str, Iterable[Binding]]] = [
        ("Anywhere", bindings_of(app)),
        ("Anywhere", bindings_of(screen)),
    ]
    seen_types: set[type] = set()
    for widget in screen.query("*"):
        if type(widget) in seen_types:
            continue
        seen_types.add(type(widget))
        sources.append((_place_name(widget), list(_own_bindings(widget))))
    rows: dict[tuple[str, str], list[str]] = {}
    descriptions: dict[tuple[str, str], str] = {}
    for where, bindings in sources:
        for binding in bindings:
            description = binding.tooltip or binding.description
            if not description or binding.system:
                continue
            key = (where, binding.action)
            rows.setdefault(key, [])
            label = describe_key(binding.key_display or binding.key)
            if label not in rows[key]:
                rows[key].append(label)
            descriptions[key] = description
    out = [(key[0], " / ".join(labels), descriptions[key]) for key, labels in rows.items()]
    out += [(where, describe_key(key), what) for where, key, what in EXTRA_KEYS]
    order = {"Anywhere": 0, "Message box": 1, "Transcript": 2}
    return sorted(out, key=lambda row: (order.get(row[0], 3), row[0]))


def _place_name(widget: DOMNode) -> str:
    names = {"Composer": "Message box", "Transcript": "Transcript", "SearchBar": "Search"}
    return names.get(type(widget).__name__, type(widget).__name__)


def help_text(screen: Screen[object]) -> str:
    rows = key_rows(screen)
    width = min(18, max((len(keys) for _, keys, _ in rows), default=0))
    lines: list[str] = []
    current = None
    for where, keys, what in rows:
        if where != current:
            if lines:
                lines.append("")
            lines.append(where)
            current = where
        if len(keys) > width:
            lines.append(f"  {keys}")
            keys = ""
        lines.append(f"  {keys.ljust(width)}  {what}")
    lines += [
        "",
        "Copying: the system clipboard (wl-copy, xclip, xsel or pbcopy) when one is reachable,",
        "else OSC 52 through the terminal (wrapped for tmux and screen). A notice says which.",
    ]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    """The keys, generated from the bindings of the screen it was opened over."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "dismiss", "Close help"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90; max-width: 100%; height: 80%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Content("Keys · Esc closes\n\n" + self._text), id="help-text")


def show_help(app: App[Any]) -> None:
    if isinstance(app.screen, HelpScreen):
        app.screen.dismiss()
        return
    app.push_screen(HelpScreen(help_text(app.screen)))
