"""The form rules every front-end shares (`conversation.forms`): no Textual, no server."""

from __future__ import annotations

from dialogtui.api.models import FormCondition, FormField, FormPart
from dialogtui.conversation.forms import action_body, local_errors
from dialogtui.testing import player

ORDER_FORM = FormPart(
    part_id="p1",
    form_id="order",
    fields=[
        FormField(key="topic", type="dropdown", options=["order", "other"], required=True),
        FormField(
            key="order_no",
            required=True,
            visible_when=[FormCondition(field="topic", value="order")],
        ),
        FormField(key="email", type="email"),
    ],
)


def test_a_hidden_field_is_left_out_of_the_body_and_not_checked() -> None:
    values = {"topic": "other", "order_no": "typed before the topic changed", "email": ""}
    assert action_body(ORDER_FORM, values) == {
        "type": "form_submission",
        "form_id": "order",
        "values": {"topic": "other", "email": ""},
    }
    assert local_errors(ORDER_FORM, {"topic": "other"}) == ({}, None)
    assert local_errors(ORDER_FORM, {"topic": "order"}) == (
        {"order_no": "This field is required."},
        None,
    )


def test_dialogtui_test_answers_a_form_by_the_same_rules_as_the_app() -> None:
    # `dialogtui test` had its own copy of the body that sent every key it was given.
    assert player.action_body is action_body
