"""One test per private Textual hook in `dialogtui/ui/textual_hooks.py`: each fails when an
upgrade of Textual renames or changes what the hook relies on."""

from __future__ import annotations

import inspect

from textual.app import App, ComposeResult
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.widget import Widget

from dialogtui.ui import textual_hooks
from dialogtui.ui.scrollbar import StripScrollBar
from dialogtui.ui.transcript import Transcript


def test_every_private_name_still_exists() -> None:
    for owner, names in textual_hooks.PRIVATE_NAMES.items():
        for name in names:
            assert hasattr(owner, name) or name in inspect.getsource(owner), (owner, name)
    # `_start_widget` is the app's, used by `install_vertical_scrollbar`.
    assert callable(App._start_widget)


class _TranscriptApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Transcript()


async def test_install_vertical_scrollbar_puts_ours_in_place() -> None:
    async with _TranscriptApp().run_test(size=(60, 12)) as pilot:
        transcript = pilot.app.query_one(Transcript)
        for number in range(30):
            transcript.add_notice(f"line {number}")
        await pilot.pause()
        bar = transcript.vertical_scrollbar
        assert type(bar) is StripScrollBar
        # Textual mounted it as the transcript's child and shows it: scrolling works through it.
        assert bar.parent is transcript and bar.display
        assert transcript.max_scroll_y > 0
        assert bar.region.height == transcript.region.height


async def test_set_virtual_height_quietly_updates_the_scroll_limits() -> None:
    async with _TranscriptApp().run_test(size=(60, 12)) as pilot:
        transcript = pilot.app.query_one(Transcript)
        await pilot.pause()
        width = transcript.virtual_size.width
        textual_hooks.set_virtual_height_quietly(transcript, Size(width, 500))
        assert transcript.virtual_size.height == 500
        # `_scroll_update` is what moves the limits and the scrollbar's window.
        assert transcript.max_scroll_y == 500 - transcript.scrollable_content_region.height
        assert transcript.vertical_scrollbar.window_virtual_size == 500


def test_size_updated_still_takes_the_layout_flag() -> None:
    parameters = inspect.signature(Widget._size_updated).parameters
    assert list(parameters)[:4] == ["self", "size", "virtual_size", "container_size"]
    assert parameters["layout"].default is True


async def test_size_updated_without_layout_asks_for_no_screen_layout() -> None:
    async with _TranscriptApp().run_test(size=(60, 12)) as pilot:
        transcript = pilot.app.query_one(Transcript)
        await pilot.pause()
        bar = transcript.vertical_scrollbar
        calls: list[bool] = []
        original = bar.refresh

        def refresh(*args: object, layout: bool = False, **kwargs: object) -> Widget:
            calls.append(layout)
            return original(*args, layout=layout, **kwargs)  # type: ignore[arg-type]

        bar.refresh = refresh  # type: ignore[method-assign]
        changed = textual_hooks.size_updated_without_layout(
            bar, Size(1, 7), Size(1, 99), Size(1, 7)
        )
        assert changed and bar.virtual_size == Size(1, 99)  # the size did change …
        assert True not in calls  # … and no layout was asked for
        # The control: Textual's own path does ask for one (else this test proves nothing).
        Widget._size_updated(bar, Size(1, 8), Size(1, 98), Size(1, 8))
        assert True in calls


def test_transcript_is_a_scroll_view() -> None:
    # The hooks target ScrollView's machinery; the transcript must stay one.
    assert issubclass(Transcript, ScrollView)


async def test_paint_now_draws_a_pending_repaint_at_once() -> None:
    from textual.widgets import TextArea

    class EditorApp(App[None]):
        def compose(self) -> ComposeResult:
            yield TextArea()

    async with EditorApp().run_test(size=(40, 6)) as pilot:
        editor = pilot.app.query_one(TextArea)
        await pilot.pause()
        editor.insert("x")
        # What Textual's refresh records, and waits to send to the screen …
        assert editor._repaint_required
        textual_hooks.paint_now(editor)
        # … taken and drawn: nothing pending on the widget or the screen.
        assert not editor._repaint_required
        assert not pilot.app.screen._dirty_widgets
