"""Email end to end: a broker routes a request to email receivers, the email notifier mails
each recipient through real SMTP servers on loopback (aiosmtpd), a person opens the mail's
answer link on the gateway, confirms, and the broker decides as the identity the address
maps to (so `responders` rules hold); the settled mail follows. A link that is used,
expired or tampered with changes nothing and says why; a refusing or hanging SMTP server is
retried, then its route's fallback gets the mail, and it holds up no other receiver."""

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from hitl.broker.service import BrokerService
from hitl.core.links import Link, open_link, sign
from hitl.gateway.service import GatewayService
from hitl.notifiers.channels.email import EmailChannel
from hitl.notifiers.service import NotifierService
from hitl.runtime.stores import redis_store
from hitl.sdk import HitlClient
from hitl.settings import Settings
from tests.helpers import eventually
from tests.servers import test_settings
from tests.smtp import Mail, Running, hanging_server, smtp_server

pytestmark = pytest.mark.slow
SECRET = "an email link secret of 32 chars or more"
PUBLIC = "http://gateway.test"
LINK = re.compile(re.escape(PUBLIC) + r"(/email/links/[A-Za-z0-9_\-.]+)")


def routing(ok: int, refusing: int, hanging: int) -> str:
    def smtp(port: int, timeout: str = "1s") -> str:
        return (f"{{host: 127.0.0.1, port: {port}, security: none, from: hitl@example.com, "
                f"timeout: {timeout}}}")  # fmt: skip

    return f"""\
receivers:
  - name: finance
    type: email
    to: [ana@example.com]
    identities: {{ana@example.com: {{id: ana, groups: [finance]}}}}
    smtp: {smtp(ok)}
  - {{name: refusing, type: email, to: [x@example.com], smtp: {smtp(refusing)}}}
  - {{name: hanging, type: email, to: [y@example.com], smtp: {smtp(hanging, "0.3s")}}}
route:
  receivers: [finance]
  routes:
    - {{matchers: [team=refusing], receivers: [refusing], fallback: finance}}
    - {{matchers: [team=hanging], receivers: [hanging], fallback: finance}}
"""


@dataclass
class Stack:
    settings: Settings
    broker: BrokerService
    gateway: GatewayService
    smtp: Running
    refusing: Running
    hung: list[int]

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.gateway.port}", timeout=15)

    async def outcome(self, iid: UUID):  # type: ignore[no-untyped-def]
        assert self.broker.store is not None
        state = await self.broker.store.load(iid)
        return None if state is None else state.outcome

    async def history(self, iid: UUID) -> list[tuple[str, str | None]]:
        store = redis_store(await self.broker.host.redis(), self.settings)
        return [(h.event, h.receiver) for h in await store.history(iid)]


@pytest.fixture
async def stack(namespace: str, tmp_path: Path) -> AsyncIterator[Stack]:
    async with (
        smtp_server() as ok,
        smtp_server(rcpt_reply="451 4.3.0 mailbox busy, try later") as refusing,
        hanging_server() as (hanging, hung),
    ):
        path = tmp_path / "routing.yaml"
        path.write_text(routing(ok.port, refusing.port, hanging))
        settings = test_settings(
            namespace, routing_file=str(path), notifier_attempts=2,
            notifier_retry_cap_seconds=0.05, link_secret=SECRET, gateway_public_url=PUBLIC,
            gateway_port=0, gateway_receipt_timeout_seconds=5.0,
        )  # fmt: skip
        broker = BrokerService(settings)
        notifier = NotifierService(settings, EmailChannel.from_settings(settings))
        gateway = GatewayService(settings)
        await broker.start()
        await gateway.start()
        await notifier.start()
        try:
            yield Stack(settings, broker, gateway, ok, refusing, hung)
        finally:
            await notifier.stop()
            await gateway.stop()
            await broker.stop()


async def ask(client: HitlClient, team: str | None = None, **fields: object) -> UUID:
    request = client.new_request(
        "approval", thread_id="pay-7", prompt="Pay invoice 42 (<b>1,200 EUR</b>)?",
        labels={"team": team} if team else {}, **fields,
    )  # fmt: skip
    await client.submit(request)
    return request.id


def links(mail: Mail) -> list[str]:
    return LINK.findall(mail.body("plain"))


async def confirm(http: httpx.AsyncClient, path: str) -> httpx.Response:
    """GET the link's page, then POST its form as a browser would (with its cookie)."""
    page = await http.get(path)
    assert page.status_code == 200, page.text
    token = re.search(r'name="confirm" value="([0-9a-f]+)"', page.text)
    assert token is not None
    return await http.post(path, data={"confirm": token.group(1)})


async def test_a_link_confirmed_on_its_page_decides_as_the_mapped_identity(
    stack: Stack, client: HitlClient
) -> None:
    iid = await ask(client, responders=["group:finance"])
    await eventually(lambda: len(stack.smtp.mails) == 1)
    [mail] = stack.smtp.mails
    assert mail.recipients == ["ana@example.com"]
    approve, reject = links(mail)
    async with stack.http() as http:
        shown = await http.get(approve)  # what a mail scanner does: nothing is decided
        assert shown.status_code == 200
        assert "Confirm: approve" in shown.text
        assert "&lt;b&gt;1,200 EUR&lt;/b&gt;" in shown.text
        assert shown.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in shown.headers["content-security-policy"]
        assert await stack.outcome(iid) is None

        # A POST without the page's cookie (another site's form) is refused.
        token = re.search(r'value="([0-9a-f]+)"', shown.text)
        assert token is not None
        async with stack.http() as other:
            forged = await other.post(approve, data={"confirm": token.group(1)})
        assert forged.status_code == 403
        assert await stack.outcome(iid) is None

        done = await confirm(http, approve)
        assert done.status_code == 200, done.text
        assert "You answered approve as ana." in done.text
        outcome = await stack.outcome(iid)
        assert outcome is not None and outcome.action == "approve"
        assert outcome.decided_by.identity is not None
        assert outcome.decided_by.identity.id == "ana"
        assert outcome.decided_by.channel == "email:finance"

        # The mail's other link, and the same one again: used, says who decided, no change.
        for path in (reject, approve):
            again = await http.get(path)
            assert again.status_code == 409
            assert "approved by ana via email:finance at" in again.text
            posted = await http.post(path, data={"confirm": "x"})
            assert posted.status_code == 409
    assert (await stack.outcome(iid)).action == "approve"  # type: ignore[union-attr]

    await eventually(lambda: len(stack.smtp.mails) == 2)
    settled = stack.smtp.mails[1]
    assert settled.message["In-Reply-To"] == mail.message["Message-ID"]
    assert "approved by ana via email:finance" in settled.body("plain")
    assert ("updated", "finance") in await stack.history(iid)


async def test_a_tampered_or_expired_link_changes_nothing(stack: Stack, client: HitlClient) -> None:
    iid = await ask(client)
    await eventually(lambda: len(stack.smtp.mails) == 1)
    approve = links(stack.smtp.mails[0])[0]
    token = approve.rsplit("/", 1)[1]
    link = open_link(token, SECRET.encode())
    rejecting = sign(  # a link made with another secret
        Link(link.interaction_id, link.receiver, link.address, "reject", {}, link.expires, "u"),
        b"not the gateway's secret, 32 chars...",
    )
    expired = sign(Link(
        link.interaction_id, link.receiver, link.address, "approve", {}, int(time.time()) - 5,
        "another-use",
    ), SECRET.encode())  # fmt: skip
    payload, mac = token.split(".")
    async with stack.http() as http:
        for bad in (f"{payload}x.{mac}", rejecting, "garbage"):
            page = await http.get(f"/email/links/{bad}")
            assert page.status_code == 400
            assert "Not a valid link" in page.text
            assert (
                await http.post(f"/email/links/{bad}", data={"confirm": "x"})
            ).status_code == 400
        old = await http.get(f"/email/links/{expired}")
        assert old.status_code == 410
        assert "expired" in old.text
        assert (
            await http.post(f"/email/links/{expired}", data={"confirm": "x"})
        ).status_code == 410
    assert await stack.outcome(iid) is None


async def test_a_refusing_server_is_retried_then_the_fallback_gets_the_mail(
    stack: Stack, client: HitlClient
) -> None:
    iid = await ask(client, "refusing")
    await eventually(lambda: len(stack.smtp.mails) == 1)
    assert stack.refusing.handler.refused == 2  # notifier_attempts
    history = await stack.history(iid)
    assert history.count(("delivery_failed", "refusing")) == 2
    assert ("fell_back", "refusing") in history
    await eventually(lambda: _has(stack, iid, ("delivered", "finance")))


async def test_a_hanging_server_is_retried_and_holds_up_no_other_receiver(
    stack: Stack, client: HitlClient
) -> None:
    hung_iid = await ask(client, "hanging")
    await eventually(lambda: len(stack.hung) == 1)
    others = [await ask(client) for _ in range(3)]
    await eventually(lambda: len(stack.smtp.mails) >= 3)
    assert {m.message["X-Hitl-Interaction"] for m in stack.smtp.mails[:3]} <= {
        str(i) for i in [*others, hung_iid]
    }
    await eventually(lambda: _has(stack, hung_iid, ("fell_back", "hanging")))
    assert len(stack.hung) == 2
    await eventually(lambda: len(stack.smtp.mails) == 4)


async def _has(stack: Stack, iid: UUID, entry: tuple[str, str | None]) -> bool:
    return entry in await stack.history(iid)
