"""The action bar on its own: what it offers, how it is drawn, keys, clicks and focus."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input

from dialogtui.ui.choices import MAX_LABEL, ActionBar, Choice

CHOICES = [
    Choice("What can you do?", "capabilities"),
    Choice("Plans", "plans"),
    Choice("Sales", "sales"),
]


class BarApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.heard: list[Message] = []

    def compose(self) -> ComposeResult:
        yield ActionBar()
        yield Input(id="after")

    def on_action_bar_chosen(self, message: ActionBar.Chosen) -> None:
        self.heard.append(message)

    def on_action_bar_retry_pressed(self, message: ActionBar.RetryPressed) -> None:
        self.heard.append(message)


def line(bar: ActionBar) -> str:
    return bar.render_line(0).text


def sent(app: BarApp) -> list[str]:
    return [
        "retry" if isinstance(m, ActionBar.RetryPressed) else m.choice.send_text  # type: ignore[attr-defined]
        for m in app.heard
    ]


async def test_it_offers_the_choices_and_retry_and_can_be_emptied() -> None:
    app = BarApp()
    async with app.run_test(size=(80, 5)):
        bar = app.query_one(ActionBar)
        bar.show(CHOICES, retry=True)
        assert bar.labels == ["What can you do?", "Plans", "Sales"]
        assert bar.has_retry
        assert line(bar).split() == ["↻", "Retry", "What", "can", "you", "do?", "Plans", "Sales"]
        bar.clear()
        assert not bar.labels and not bar.has_retry
        assert line(bar).strip() == ""
        bar.show(CHOICES[:1])
        assert bar.labels == ["What can you do?"] and not bar.has_retry


async def test_its_row_stays_and_changes_never_lay_the_screen_out() -> None:
    """The point of drawing the bar: a turn's start and end repaint one row, they do not make
    Textual lay the whole screen out (twice) and repaint all of it."""
    layouts = 0
    original = Screen._refresh_layout

    def counted(self: Screen[None], *args: object, **kwargs: object) -> None:
        nonlocal layouts
        layouts += 1
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    app = BarApp()
    async with app.run_test(size=(80, 5)) as pilot:
        bar = app.query_one(ActionBar)
        await pilot.pause()
        region = bar.region
        Screen._refresh_layout = counted  # type: ignore[method-assign]
        try:
            for choices, retry in (
                (CHOICES, False),
                ((), False),
                ((), True),
                (CHOICES[1:], True),
                ((), False),
            ):
                bar.show(choices, retry=retry)
                await pilot.pause()
                assert bar.region == region and region.height == 1
        finally:
            Screen._refresh_layout = original  # type: ignore[method-assign]
        assert layouts == 0


async def test_keys_move_between_choices_and_choose() -> None:
    app = BarApp()
    async with app.run_test(size=(80, 5)) as pilot:
        bar = app.query_one(ActionBar)
        bar.show(CHOICES, retry=True)
        bar.focus()
        await pilot.press("enter")  # the first item: Retry
        await pilot.press("right", "right", "enter")
        await pilot.press("right", "right", "right", "space")  # stops at the last
        await pilot.press("home", "right", "enter")
        await pilot.press("end", "left", "enter")
        await pilot.pause()
        assert sent(app) == ["retry", "plans", "sales", "capabilities", "plans"]


async def test_the_cursor_shows_only_while_the_bar_has_focus() -> None:
    app = BarApp()
    async with app.run_test(size=(80, 5)) as pilot:
        bar = app.query_one(ActionBar)
        bar.show(CHOICES)
        await pilot.pause()

        def reversed_text() -> str:
            return "".join(
                segment.text
                for segment in bar.render_line(0)
                if segment.style is not None and segment.style.reverse
            )

        assert reversed_text() == ""
        bar.focus()
        await pilot.press("right")
        assert reversed_text().strip() == "Plans"
        app.query_one("#after").focus()
        await pilot.pause()
        assert reversed_text() == ""


async def test_a_click_chooses_the_item_under_it_and_only_that() -> None:
    app = BarApp()
    async with app.run_test(size=(80, 5)) as pilot:
        bar = app.query_one(ActionBar)
        bar.show(CHOICES, retry=True)
        await pilot.pause()
        for index in (2, 0, 3):
            assert await pilot.click(ActionBar, offset=(bar.item_offset(index) + 1, 0))
        # The gap between two items, and the empty rest of the row, choose nothing.
        assert await pilot.click(ActionBar, offset=(bar.item_offset(1) - 1, 0))
        assert await pilot.click(ActionBar, offset=(78, 0))
        await pilot.pause()
        assert sent(app) == ["plans", "retry", "sales"]


async def test_an_empty_bar_takes_no_focus_and_hands_it_on() -> None:
    app = BarApp()
    async with app.run_test(size=(80, 5)) as pilot:
        bar = app.query_one(ActionBar)
        assert not bar.focusable
        bar.show(CHOICES)
        bar.focus()
        await pilot.pause()
        assert app.focused is bar
        bar.clear()  # a turn starts while the bar has focus
        await pilot.pause()
        assert app.focused is app.query_one("#after")
        await pilot.press("enter")  # nothing left to choose, nothing sent
        assert not bar.focusable and sent(app) == []


async def test_labels_are_text_one_line_and_bounded() -> None:
    app = BarApp()
    async with app.run_test(size=(120, 5)):
        bar = app.query_one(ActionBar)
        bar.show(
            [
                Choice("[b]not bold[/b]", "markup"),
                Choice("two\nlines\x1b[31m", "control"),
                Choice("x" * 100, "long"),
            ]
        )
        assert bar.labels[0] == "[b]not bold[/b]"
        assert "\n" not in bar.labels[1] and "\x1b" not in bar.labels[1]
        assert len(bar.labels[2]) == MAX_LABEL and bar.labels[2].endswith("…")
        assert "[b]not bold[/b]" in line(bar)
        assert "\x1b" not in line(bar)


async def test_a_row_too_narrow_scrolls_to_the_cursor() -> None:
    app = BarApp()
    async with app.run_test(size=(30, 5)) as pilot:
        bar = app.query_one(ActionBar)
        bar.show([Choice(f"Choice number {n}", str(n)) for n in range(6)])
        bar.focus()
        await pilot.pause()
        assert "Choice number 0" in line(bar) and "Choice number 5" not in line(bar)
        await pilot.press("end")
        assert "Choice number 5" in line(bar) and "Choice number 0" not in line(bar)
        assert len(line(bar)) == bar.content_size.width
        # A click lands on what is drawn there now.
        assert await pilot.click(ActionBar, offset=(bar.item_offset(5) + 1, 0))
        await pilot.press("home", "enter")
        await pilot.pause()
        assert sent(app) == ["5", "0"]


class Between(BarApp):
    """The bar between two widgets, as in the app (the transcript above, the composer below)."""

    def compose(self) -> ComposeResult:
        yield Input(id="before")
        yield ActionBar()
        yield Input(id="after")


async def test_left_stops_at_the_first_and_new_choices_start_over() -> None:
    app = BarApp()
    async with app.run_test(size=(80, 5)) as pilot:
        bar = app.query_one(ActionBar)
        bar.show(CHOICES)
        bar.focus()
        await pilot.press("left", "enter")
        await pilot.press("end")
        bar.show(CHOICES[:1])  # the cursor was on the third: it starts over at the first
        await pilot.press("enter")
        await pilot.pause()
        assert sent(app) == ["capabilities", "capabilities"]


async def test_hover_marks_the_item_under_the_mouse_and_goes_with_it() -> None:
    app = BarApp()
    async with app.run_test(size=(80, 5)) as pilot:
        bar = app.query_one(ActionBar)
        bar.show(CHOICES, retry=True)
        await pilot.pause()
        plain = bar.render_line(0)

        def background(index: int) -> object:
            cell = bar.item_offset(index) - bar.styles.padding.left
            return bar.render_line(0).crop(cell, cell + 1)._segments[0].style.bgcolor  # type: ignore[union-attr]

        retry_colour, choice_colour = background(0), background(1)
        await pilot.hover(ActionBar, offset=(bar.item_offset(1) + 1, 0))
        hovered_choice = background(1)
        assert hovered_choice != choice_colour and background(0) == retry_colour
        await pilot.hover("#after")
        assert bar.render_line(0) == plain
        await pilot.hover(ActionBar, offset=(bar.item_offset(0) + 1, 0))
        # Retry keeps a colour of its own under the mouse.
        assert background(0) not in (retry_colour, hovered_choice)
        bar.show(CHOICES, retry=True)  # new items: nothing is under the mouse until it moves
        assert bar.render_line(0) == plain


async def test_an_emptied_bar_hands_focus_to_the_widget_after_it() -> None:
    app = Between()
    async with app.run_test(size=(80, 8)) as pilot:
        bar = app.query_one(ActionBar)
        bar.show(CHOICES)
        bar.focus()
        await pilot.pause()
        bar.clear()
        await pilot.pause()
        assert app.focused is app.query_one("#after")


async def test_an_unmounted_bar_can_be_cleared() -> None:
    bar = ActionBar()
    bar.show(CHOICES)
    bar.clear()  # a turn that ends while the app shuts down
    assert bar.labels == []


async def test_widening_shows_what_fits_again_and_the_ends_say_there_is_more() -> None:
    app = BarApp()
    async with app.run_test(size=(30, 5)) as pilot:
        bar = app.query_one(ActionBar)
        bar.show([Choice(f"Choice {n}", str(n)) for n in range(6)])
        bar.focus()
        await pilot.pause()
        assert line(bar).rstrip().endswith("›") and not line(bar).startswith("‹")
        await pilot.press("end")
        assert (
            line(bar).startswith("‹")
            and "Choice 5" in line(bar)
            and not line(bar).rstrip().endswith("›")
        )
        await pilot.resize_terminal(200, 5)
        await pilot.pause()
        assert (
            "Choice 0" in line(bar)
            and "Choice 5" in line(bar)
            and "‹" not in line(bar)
            and "›" not in line(bar)
        )


async def test_a_label_wider_than_the_row_shows_its_start() -> None:
    app = BarApp()
    async with app.run_test(size=(20, 5)) as pilot:
        bar = app.query_one(ActionBar)
        bar.show([Choice("Short", "s"), Choice("A rather long suggestion", "long")])
        bar.focus()
        await pilot.press("right")
        assert "A rather" in line(bar)
        assert len(line(bar)) == bar.content_size.width
