"""The pictures docs/channels.md shows, taken from what the channels really send: a Slack
message as the Slack stand-in (docs/examples/slack_standin.py, a process) received it from
``SlackChannel`` and renders it, and an email as aiosmtpd received it from ``EmailChannel``,
its HTML body shown by Chromium. Written to docs/images with HITL_SCREENSHOTS=1 (to refresh
the docs), else to a temporary folder; either way the pictures are checked for what a person
must see: the request, its buttons, and once decided, who decided."""

import asyncio
import re
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from hitl.core.routing.config import EmailReceiver, SlackReceiver
from hitl.notifiers.channels.email import EmailChannel
from hitl.notifiers.channels.slack import SlackChannel
from hitl.notifiers.secrets import EnvOrFileSecrets
from hitl_contract import InteractionOutcome, Notification
from tests.browser.conftest import FLAGS, ROOT, SHOTS_TO_DOCS, _chromium
from tests.helpers import eventually
from tests.smtp import smtp_server

pytestmark = pytest.mark.asyncio(loop_scope="module")
PUBLIC = "https://hitl.example.com"
TOKEN = "xoxb-screenshots"


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ROOT / "docs" / "images" if SHOTS_TO_DOCS else tmp_path_factory.mktemp("channels")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = _chromium()
    playwright = await async_playwright().start()
    launched = await playwright.chromium.launch(executable_path=executable, args=FLAGS)
    try:
        yield launched
    finally:
        await launched.close()
        await playwright.stop()


def approval(**fields: Any) -> Notification:
    iid = str(uuid.uuid4())
    request = {
        "kind": "approval", "id": iid, "thread_id": "pay-7", "reply_to": "billing",
        "requester": {"id": "billing-bot", "display_name": "Billing bot"},
        "node_name": "payments", "prompt": "Pay invoice 42 to ACME GmbH (1,200 EUR)?",
        "context": {"invoice": "INV-42", "due": "2026-12-04", "approver_limit": "5,000 EUR"},
        **fields,
    }  # fmt: skip
    deadline = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    return Notification.model_validate({
        "interaction_id": iid, "reason": "requested", "route": "payments", "attempt": 1,
        "deadline": deadline.isoformat(), "request": request,
    })  # fmt: skip


def decided(note: Notification, who: str, channel: str) -> InteractionOutcome:
    at = datetime(2026, 12, 1, 17, 3, tzinfo=UTC)
    return InteractionOutcome.model_validate({
        "interaction_id": str(note.interaction_id), "thread_id": note.request.thread_id,
        "kind": "approval", "status": "resolved", "action": "approve",
        "decided_by": {"type": "person", "identity": {"id": who}, "channel": channel},
        "requested_at": (at - timedelta(minutes=9)).isoformat(), "resolved_at": at.isoformat(),
    })  # fmt: skip


async def shot(page: Page, path: Path) -> None:
    picture = await page.screenshot(path=path, full_page=True)
    assert len(picture) > 5000  # a picture, not an empty page


async def test_a_slack_message_as_the_stand_in_renders_it(browser: Browser, shots: Path) -> None:
    standin = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "docs/examples/slack_standin.py"), "serve", "--port", "0",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert standin.stdout is not None
        line = (await asyncio.wait_for(standin.stdout.readline(), 20)).decode()
        base = line.split(" on ", 1)[1].strip().removesuffix("/api/")
        receiver = SlackReceiver.model_validate({
            "type": "slack", "name": "payments-slack", "channel": "#payments",
            "token": {"env": "SLACK_TOKEN"}, "signing_secret": {"env": "SLACK_SIGNING"},
            "api_url": f"{base}/api/",
        })  # fmt: skip
        channel = SlackChannel(public_url=PUBLIC, secrets=EnvOrFileSecrets({"SLACK_TOKEN": TOKEN}))
        settled = approval(prompt="Refund order 1009 (86 EUR) to the customer's card?",
                           context={"order": "1009", "reason": "damaged in transit"})  # fmt: skip
        sent = await channel.send(receiver, settled)
        await channel.update(receiver, sent, decided(settled, "ana@example.com", "slack:payments"))
        await channel.send(receiver, approval())
        async with httpx.AsyncClient() as http:

            async def both() -> bool:
                return len((await http.get(f"{base}/messages.json")).json()["messages"]) == 2

            await eventually(both)
        context = await browser.new_context(viewport={"width": 820, "height": 300})
        page = await context.new_page()
        await page.goto(base)
        await expect(page.locator(".btn.primary")).to_have_text("Approve")
        await expect(page.locator(".btn.danger")).to_have_text("Reject")
        await expect(page.locator("body")).to_contain_text("Pay invoice 42 to ACME GmbH")
        await expect(page.locator("body")).to_contain_text(
            "Settled: approved by ana@example.com via slack:payments at 2026-12-01 17:03 UTC"
        )
        await expect(page.locator(".edited")).to_have_count(1)
        await expect(page.locator("header")).to_have_text("# payments")
        await shot(page, shots / "slack-standin.png")
        await context.close()
    finally:
        standin.terminate()
        await standin.wait()


async def test_an_email_as_aiosmtpd_received_it(browser: Browser, shots: Path) -> None:
    async with smtp_server() as server:
        receiver = EmailReceiver.model_validate({
            "type": "email", "name": "finance-email", "to": ["ana@example.com"],
            "smtp": {"host": server.host, "port": server.port, "security": "none",
                     "from": "hitl@example.com"},
        })  # fmt: skip
        channel = EmailChannel(public_url=PUBLIC, link_secret=b"s" * 32)
        await channel.send(receiver, approval())
        [mail] = server.mails
    context = await browser.new_context(
        viewport={"width": 720, "height": 300}, java_script_enabled=False
    )
    page = await context.new_page()
    await page.set_content(mail.body("html"))
    approve = page.get_by_role("link", name="Approve")
    await expect(approve).to_have_attribute("href", re.compile(re.escape(PUBLIC) + "/email/links/"))
    await expect(page.locator("body")).to_contain_text("Pay invoice 42 to ACME GmbH")
    await shot(page, shots / "email-approval.png")
    await context.close()
