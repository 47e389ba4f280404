"""The email channel against real SMTP servers on loopback (aiosmtpd): a mail per recipient
with its own signed answer links, text and HTML bodies with the request's text escaped,
STARTTLS and AUTH, the settled mail in the same thread; and what each failure means for the
framework: a refusal of 4xx or a hang is retryable, a 5xx, bad credentials or a server
without STARTTLS are permanent."""

import re
import time
import uuid
from pathlib import Path

import pytest

from hitl.core.links import open_link
from hitl.core.routing.config import EmailReceiver
from hitl.errors import Permanent, Retryable
from hitl.notifiers.channels.email import EmailChannel
from hitl.notifiers.port import Sent
from hitl_contract import Notification, NotifyReason
from tests.smtp import PASSWORD, USER, certificate, hanging_server, smtp_server
from tests.webhooks import outcome

SECRET = b"k" * 32
PUBLIC = "https://hitl.example.com"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return certificate(tmp_path_factory.mktemp("smtp-tls"))


def receiver(port: int, **smtp: object) -> EmailReceiver:
    return EmailReceiver.model_validate(
        {
            "type": "email",
            "name": "finance-email",
            "to": ["ana@example.com", "bo@example.com"],
            "smtp": {"host": "127.0.0.1", "port": port, "security": "none",
                     "from": "hitl@example.com", "timeout": "1s", **smtp},
        }
    )  # fmt: skip


def channel() -> EmailChannel:
    return EmailChannel(public_url=PUBLIC, link_secret=SECRET, secrets=_env)


def _env(ref: object) -> str:
    return PASSWORD


def note(prompt: str = "Pay invoice <b>42</b> & ship?", **fields: object) -> Notification:
    request = {
        "kind": "approval", "id": str(uuid.uuid4()), "thread_id": "t-1", "prompt": prompt,
        "reply_to": "ci", "requester": {"id": "billing-bot"}, **fields,
    }  # fmt: skip
    return Notification.model_validate(
        {"interaction_id": request["id"], "reason": "requested", "route": "finance-email",
         "attempt": 1, "request": request}
    )  # fmt: skip


LINK = re.compile(re.escape(PUBLIC) + r"/email/links/([A-Za-z0-9_\-.]+)")


async def test_each_recipient_gets_its_own_mail_with_links_that_answer_as_it(
    tls: tuple[Path, Path],
) -> None:
    async with smtp_server(tls=tls) as server:
        secured = receiver(
            server.port, security="starttls", ca_file=str(tls[0]), username=USER,
            password={"env": "UNUSED"},
        )  # fmt: skip
        n = note()
        sent = await channel().send(secured, n)
    assert sent.reference == f"notification:{n.interaction_id}:requested:1"
    assert [m.recipients for m in server.mails] == [["ana@example.com"], ["bo@example.com"]]
    for mail, address in zip(server.mails, ["ana@example.com", "bo@example.com"], strict=True):
        assert mail.sender == "hitl@example.com"
        assert mail.message["Subject"] == "[hitl] Pay invoice <b>42</b> & ship?"
        assert mail.message["Auto-Submitted"] == "auto-generated"
        html, text = mail.body("html"), mail.body("plain")
        assert "Pay invoice &lt;b&gt;42&lt;/b&gt; &amp; ship?" in html
        assert "<b>42</b>" not in html
        assert "Pay invoice <b>42</b> & ship?" in text
        tokens = LINK.findall(text)
        assert LINK.findall(html) == tokens
        links = [open_link(t, SECRET) for t in tokens]
        assert [(x.action, x.address, x.receiver) for x in links] == [
            ("approve", address, "finance-email"),
            ("reject", address, "finance-email"),
        ]
        assert len({x.use for x in links}) == 1  # one mail, one answer
        assert links[0].expires > time.time() + 6 * 24 * 3600
        assert f"{PUBLIC}/inbox/i/{n.interaction_id}" in text
    uses = {open_link(LINK.findall(m.body("plain"))[0], SECRET).use for m in server.mails}
    assert len(uses) == 2  # each recipient's links are its own


async def test_kinds_that_need_typing_link_to_the_inbox_and_links_end_at_the_deadline() -> None:
    deadline = "2030-01-01T00:00:00Z"
    text_note = note("Describe the incident", kind="text_input")
    timed = Notification.model_validate({**text_note.model_dump(mode="json"), "deadline": deadline})
    choice = note("Which region?", kind="choice", options=["eu-west", "us-east"])
    async with smtp_server() as server:
        await channel().send(receiver(server.port), timed)
        await channel().send(receiver(server.port), choice)
    typed, chosen = server.mails[0], server.mails[2]
    assert LINK.findall(typed.body("plain")) == []
    assert f"Answer… in the inbox: {PUBLIC}/inbox/i/{timed.interaction_id}" in typed.body("plain")
    assert "Answer by 2030-01-01 00:00 UTC" in typed.body("plain")
    links = [open_link(t, SECRET) for t in LINK.findall(chosen.body("plain"))]
    assert [(x.action, x.data) for x in links] == [
        ("choose", {"choice": 1}),
        ("choose", {"choice": 2}),
    ]


async def test_the_settled_mail_follows_the_first_in_its_thread() -> None:
    n = note()
    async with smtp_server() as server:
        sent = await channel().send(receiver(server.port), n)
        await channel().update(receiver(server.port), sent, outcome(n.interaction_id))
    first, settled = server.mails[0], server.mails[2]
    assert settled.message["In-Reply-To"] == first.message["Message-ID"]
    assert settled.message["References"] == first.message["Message-ID"]
    assert settled.message["Subject"].startswith("[hitl] Settled: approved by ana via slack at ")
    assert "approved by ana via slack at" in settled.body("plain")


async def test_a_reminder_follows_the_first_mail() -> None:
    n = note()
    reminder = n.model_copy(update={"reason": NotifyReason.REMINDER, "attempt": 2})
    async with smtp_server() as server:
        await channel().send(receiver(server.port), n)
        await channel().send(receiver(server.port), reminder)
    assert server.mails[2].message["In-Reply-To"] == server.mails[0].message["Message-ID"]
    assert server.mails[2].message["Subject"].startswith("[hitl] Reminder: ")


@pytest.mark.parametrize(
    ("reply", "error"),
    [("451 4.3.0 try again later", Retryable), ("550 5.1.1 no such user", Permanent)],
)
async def test_a_refused_recipient_is_retryable_or_not_by_the_reply_code(
    reply: str, error: type[Exception]
) -> None:
    async with smtp_server(rcpt_reply=reply) as server:
        with pytest.raises(error, match=reply.split()[0]):
            await channel().send(receiver(server.port), note())
    assert server.mails == []


async def test_a_hanging_server_ends_the_attempt_as_retryable() -> None:
    async with hanging_server() as (port, taken):
        with pytest.raises(Retryable, match=f"127.0.0.1:{port}"):
            await channel().send(receiver(port, timeout="0.3s"), note())
    assert taken == [1]


async def test_a_closed_port_is_retryable() -> None:
    async with hanging_server() as (port, _):
        pass  # closed again: nothing listens there now
    with pytest.raises(Retryable):
        await channel().send(receiver(port), note())


async def test_bad_credentials_and_a_server_without_starttls_are_permanent(
    tls: tuple[Path, Path],
) -> None:
    wrong = EmailChannel(public_url=PUBLIC, link_secret=SECRET, secrets=lambda ref: "wrong")
    async with smtp_server(tls=tls) as server:
        secured = receiver(
            server.port, security="starttls", ca_file=str(tls[0]), username=USER,
            password={"env": "UNUSED"},
        )  # fmt: skip
        with pytest.raises(Permanent, match="credentials"):
            await wrong.send(secured, note())
    async with smtp_server() as plain:
        with pytest.raises(Permanent, match="STARTTLS"):
            await channel().send(receiver(plain.port, security="starttls"), note())
    assert plain.mails == []


async def test_an_untrusted_certificate_is_permanent(tls: tuple[Path, Path]) -> None:
    async with smtp_server(tls=tls) as server:
        with pytest.raises(Permanent, match="certificate"):
            await channel().send(receiver(server.port, security="starttls"), note())


async def test_a_receiver_without_smtp_is_permanent() -> None:
    bare = EmailReceiver(type="email", name="mail", to=["a@example.com"])
    with pytest.raises(Permanent, match="no smtp server"):
        await channel().send(bare, note())
    with pytest.raises(Permanent):
        await channel().update(bare, Sent("x"), outcome(uuid.uuid4()))
