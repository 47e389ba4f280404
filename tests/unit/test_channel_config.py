"""The email and Slack receivers of a routing file: SMTP settings and their checks, who an
address or a Slack user answers as."""

import pytest
from pydantic import ValidationError

from hitl.core.routing.config import EmailReceiver, SlackReceiver
from hitl.notifiers.answers import one_click, typed
from hitl_contract import Identity, PreviewRequest
from tests.webhooks import notification


def email(**smtp: object) -> EmailReceiver:
    return EmailReceiver.model_validate(
        {"type": "email", "name": "m", "to": ["a@example.com"], "cc": ["a@example.com", "c@x.io"],
         "identities": {"c@x.io": {"id": "cy", "groups": ["ops"]}},
         "smtp": {"host": "smtp.example.com", "from": "hitl@example.com", **smtp}}
    )  # fmt: skip


def test_the_port_follows_the_security_unless_given() -> None:
    assert email().smtp is not None and email().smtp.effective_port == 587  # type: ignore[union-attr]
    assert email(security="tls").smtp.effective_port == 465  # type: ignore[union-attr]
    assert email(security="none").smtp.effective_port == 25  # type: ignore[union-attr]
    assert email(port=2525).smtp.effective_port == 2525  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("smtp", "error"),
    [
        ({"username": "u"}, "together"),
        ({"username": "u", "password": {"env": "P"}, "security": "none"}, "plain text"),
        ({"from": "not an address"}, "from"),
        ({"security": "ssl"}, "security"),
    ],
)
def test_smtp_settings_that_cannot_work_are_refused(smtp: dict, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        email(**smtp)


def test_each_address_once_answering_as_itself_unless_mapped() -> None:
    r = email()
    assert r.recipients == ["a@example.com", "c@x.io"]
    assert r.identity("a@example.com") == Identity(id="a@example.com")
    assert r.identity("c@x.io") == Identity(id="cy", groups=["ops"])


def test_slack_users_are_slack_ids_and_the_api_url_ends_with_a_slash() -> None:
    r = SlackReceiver.model_validate(
        {"type": "slack", "name": "s", "channel": "#ops", "token": {"env": "T"},
         "users": {"U012AB3CD": {"id": "ana"}}, "api_url": "http://127.0.0.1:9/api"}
    )  # fmt: skip
    assert r.api_url == "http://127.0.0.1:9/api/"
    with pytest.raises(ValidationError, match="users"):
        SlackReceiver.model_validate(
            {"type": "slack", "name": "s", "channel": "#ops", "token": {"env": "T"},
             "users": {"ana": {"id": "ana"}}}
        )  # fmt: skip


def test_one_click_answers_and_typed_ones_per_kind() -> None:
    approval = notification().request
    assert [(o.action, o.style) for o in one_click(approval)] == [
        ("approve", "primary"),
        ("reject", "danger"),
    ]
    assert typed(approval) == []
    p = PreviewRequest.model_validate(approval.model_dump() | {"kind": "preview", "content": "x"})
    assert [o.action for o in one_click(p)] == ["proceed", "cancel"]
    assert [t.action for t in typed(p)] == ["refine"]
