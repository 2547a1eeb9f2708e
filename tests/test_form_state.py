"""Which forms can be sent (`ui.form_state.FormTracker`), as history pages arrive."""

from __future__ import annotations

from dialogtui.api.models import ContactFormPart, FormPart, Message, Part, TextPart
from dialogtui.ui.form_state import FormTracker


def bot(message_id: str, *parts: Part) -> Message:
    return Message(message_id=message_id, role="assistant", parts=list(parts))


def test_forms_on_an_older_page_are_stale_and_told_once_where_they_are_shown() -> None:
    tracker = FormTracker()
    newest = bot("m9", TextPart(text="Fill this in"), FormPart(part_id="f-new", form_id="new"))
    tracker.history([newest], [90])
    older_page = [
        bot("m1", TextPart(text="hi"), ContactFormPart(part_id="f-old")),
        Message(message_id="m2", role="user", parts=[TextPart(text="later")]),
        bot("m3", FormPart(part_id="f-older", form_id="x")),
    ]
    tracker.older(older_page, [1, 2, 3])

    assert [m.part_id for m in tracker.openable()] == ["f-new"]  # the newest still opens
    assert not tracker.is_current(ContactFormPart(part_id="f-old"))
    assert [m.part_id for m in tracker.superseded()] == ["f-old", "f-older"]
    assert tracker.superseded() == []  # said once
    assert tracker.places["f-old"] == (1, 1) and tracker.places["f-older"] == (3, 0)

    tracker.older(older_page, [1, 2, 3])  # the same page again adds nothing
    assert [m.part_id for m in tracker.stale] == ["f-old", "f-older"]
