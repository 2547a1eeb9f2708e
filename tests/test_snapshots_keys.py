"""SVG snapshots (pytest-textual-snapshot) of issue 21's screens: the help, a selection in the
transcript, search highlights. Update after an intended change: `pytest --snapshot-update`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.geometry import Offset
from textual.pilot import Pilot
from textual.selection import Selection

from dialogtui.api.models import Block, RichTextPart, Span, TextPart
from dialogtui.ui.app import DialogApp
from dialogtui.ui.composer import Composer
from dialogtui.ui.help import show_help
from dialogtui.ui.screens.main import MainScreen
from dialogtui.ui.transcript import Transcript

SnapCompare = Callable[..., bool]


class KeysApp(App[None]):
    """The main screen's widgets with the app's bindings, without a server: a steady picture."""

    BINDINGS: ClassVar[list[BindingType]] = [*DialogApp.BINDINGS, *MainScreen.BINDINGS]

    def compose(self) -> ComposeResult:
        yield Transcript()
        yield Composer()

    def on_mount(self) -> None:
        transcript = self.query_one(Transcript)
        transcript.add_entry("user", [TextPart(text="Which kettle is the quietest?")])
        transcript.add_entry(
            "assistant",
            [
                RichTextPart(
                    blocks=[
                        Block(
                            type="paragraph",
                            spans=[
                                Span(text="The "),
                                Span(type="bold", text="Nordic kettle"),
                                Span(text=" is the quietest kettle we sell; the steel kettle is"),
                                Span(text=" louder but boils faster."),
                            ],
                        )
                    ]
                )
            ],
        )
        self.query_one(Composer).focus()

    def action_help(self) -> None:
        show_help(self)


def test_help_screen(snap_compare: SnapCompare) -> None:
    async def open_help(pilot: Pilot[Any]) -> None:
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(KeysApp(), terminal_size=(100, 40), run_before=open_help)


def test_a_selection_across_lines(snap_compare: SnapCompare) -> None:
    async def select(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        transcript = pilot.app.query_one(Transcript)
        pilot.app.screen.selections = {transcript: Selection(Offset(4, 1), Offset(20, 5))}
        await pilot.pause()

    assert snap_compare(KeysApp(), terminal_size=(60, 14), run_before=select)


def test_search_highlights(snap_compare: SnapCompare) -> None:
    async def search(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        pilot.app.query_one(Transcript).search("kettle")
        await pilot.pause()

    assert snap_compare(KeysApp(), terminal_size=(60, 14), run_before=search)
