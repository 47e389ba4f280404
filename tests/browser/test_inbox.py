"""A person uses the inbox in Chromium: answers every kind (the waiting producer gets the
outcome), gets the broker's field errors, sees decisions made elsewhere arrive live, and can
use every page with a keyboard and a screen reader (axe-core) on a phone-sized screen."""

import asyncio
import re
import time
import uuid
from typing import Any

import pytest
from playwright.async_api import Page, expect

from hitl.adapters.redis.keys import Keys
from hitl.adapters.redis.reads import RedisReads
from hitl_contract import InteractionOutcome
from tests.browser.cases import CASES, FORM_FIELDS, Case, button
from tests.browser.conftest import Rig, axe_violations, horizontal_overflow
from tests.helpers import eventually

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def asked(rig: Rig, kind: str, **fields: Any) -> tuple[uuid.UUID, asyncio.Task[Any]]:
    """A request asked by the producer, stored by the broker; the task awaits its outcome."""
    fields.setdefault("thread_id", f"browser-{kind}")
    request = rig.client.new_request(kind, **fields)
    waiting = asyncio.create_task(rig.client.ask(request, timeout=30))
    reads = RedisReads(rig.redis, Keys(rig.settings.namespace, rig.settings.shards))

    async def stored() -> bool:
        return await reads.load(request.id) is not None

    await eventually(stored)
    return request.id, waiting


async def accessible(page: Page, what: str) -> None:
    violations = await axe_violations(page)
    assert not violations, f"axe on {what}: {violations}"
    assert await horizontal_overflow(page) <= 0, f"{what} scrolls sideways at 390 px"


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
async def test_a_person_answers_each_kind_and_the_producer_gets_the_outcome(
    rig: Rig, case: Case
) -> None:
    iid, waiting = await asked(rig, case.kind, **case.request)
    page = await rig.signed_in("alice", "read", "respond")
    await page.goto(f"{rig.base}/inbox/?kind={case.kind}")
    await accessible(page, f"the list of {case.kind}")
    await page.locator(f"#i-{iid} a").click()
    await expect(page.get_by_role("heading", name="Your answer")).to_be_visible()
    await accessible(page, f"the {case.kind} detail page")
    if case.kind in ("form", "batch", "clarify"):
        await page.set_viewport_size({"width": 1100, "height": 900})
        await page.screenshot(path=rig.shots / f"detail-{case.kind}.png", full_page=True)
        await page.set_viewport_size({"width": 390, "height": 844})
    await case.fill(page)
    line = page.locator("#outcome-line")
    await expect(line).to_contain_text(f"({case.action}) by alice via http")
    outcome: InteractionOutcome = await waiting
    assert outcome.action == case.action
    assert outcome.decided_by.identity is not None and outcome.decided_by.identity.id == "alice"
    assert {k: outcome.data.get(k) for k in case.data} == case.data
    await expect(page.locator(".history")).to_contain_text("resolved")
    await accessible(page, f"a decided {case.kind}")
    if case.kind == "edit":
        await expect(page.locator(".diff .add")).to_contain_text("+The pipeline is DOWN.")
        await page.set_viewport_size({"width": 1100, "height": 900})
        await page.screenshot(path=rig.shots / "decided-edit.png", full_page=True)
    await page.context.close()


async def test_a_bad_form_answer_shows_the_field_errors_and_stays_pending(rig: Rig) -> None:
    iid, waiting = await asked(rig, "form", prompt="Register the service", fields=FORM_FIELDS)
    page = await rig.signed_in("alice", "read", "respond")
    await page.goto(f"{rig.base}/inbox/i/{iid}")
    await page.get_by_label("Replicas").fill("50")
    await page.get_by_label("Tier").select_option("silver")
    await button(page, "Submit").click()
    summary = page.locator("#error-summary")
    await expect(summary).to_be_focused()
    service = page.get_by_label("Service name")
    await expect(service).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#a-f-data_2e_answers_2e_service-error")).to_contain_text(
        "this field is required"
    )
    await expect(page.locator("#a-f-data_2e_answers_2e_replicas-error")).to_contain_text(
        "must be at most 20"
    )
    await expect(page.get_by_label("Tier")).to_have_value("silver")  # what was sent is kept
    await accessible(page, "a form with errors")
    await page.set_viewport_size({"width": 1100, "height": 900})
    await page.screenshot(path=rig.shots / "form-errors.png", full_page=True)
    assert not waiting.done()
    await expect(page.locator("#status-value")).to_have_text("pending")
    await service.fill("payments")
    await page.get_by_label("Replicas").fill("3")
    await button(page, "Submit").click()
    await expect(page.locator("#outcome-line")).to_contain_text("(submit) by alice")
    assert (await waiting).data["answers"]["replicas"] == 3
    await page.context.close()


async def test_a_decision_in_another_tab_reaches_open_pages_live(
    rig: Rig, record_property: Any
) -> None:
    iid, waiting = await asked(
        rig, "approval", prompt="Deploy v2.1 to production?", thread_id="live"
    )
    watcher = await rig.signed_in("alice", "read", "respond", width=1100)
    await watcher.goto(f"{rig.base}/inbox/?thread=live")
    await expect(watcher.locator("body")).to_have_attribute("data-stream", "open")
    row = watcher.locator(f"#i-{iid}")
    await expect(row).to_be_visible()
    detail = await watcher.context.new_page()
    await detail.goto(f"{rig.base}/inbox/i/{iid}")
    await expect(detail.locator("body")).to_have_attribute("data-stream", "open")

    newcomer, other = await asked(
        rig, "choice", prompt="A new one", thread_id="live", options=["a", "b"]
    )
    await expect(watcher.locator(f"#i-{newcomer}")).to_be_visible()  # appeared without a reload
    await watcher.screenshot(path=rig.shots / "list.png", full_page=True)

    await watcher.evaluate(
        """id => new MutationObserver((_, observer) => {
             if (!document.getElementById('i-' + id)) {
               window.goneAt = performance.timeOrigin + performance.now();
               observer.disconnect();
             }
           }).observe(document.getElementById('items'), {childList: true})""",
        str(iid),
    )
    bob = await rig.signed_in("bob", "read", "respond", width=1100)
    await bob.goto(f"{rig.base}/inbox/i/{iid}")
    sent = time.time()
    await button(bob, "Approve").click()
    await expect(bob.locator("#outcome-line")).to_contain_text("by bob")
    await expect(row).to_have_count(0)  # left the list without a reload
    gone_at: float = await watcher.evaluate("window.goneAt")
    record_property("sse_update_ms", round(gone_at - sent * 1000, 1))
    print(f"\nSSE: the row left the open list {gone_at - sent * 1000:.0f} ms after the click")
    await expect(detail.locator("#outcome-line")).to_contain_text("Decided (approve) by bob")
    await expect(detail.get_by_role("button", name="Approve")).to_have_count(0)
    await expect(watcher.locator(f"#i-{newcomer}")).to_be_visible()
    assert (await waiting).decided_by.identity.id == "bob"  # type: ignore[union-attr]

    # A tab that does not follow events (no script): its form is still there after the
    # decision, and posting it shows who decided and what, not an error page.
    late = await rig.signed_in("carol", "read", "respond", width=1100, javascript=False)
    await late.goto(f"{rig.base}/inbox/i/{newcomer}")
    await bob.goto(f"{rig.base}/inbox/i/{newcomer}")
    await bob.get_by_label("a", exact=True).check()
    await button(bob, "Choose").click()
    await expect(bob.locator("#outcome-line")).to_contain_text("by bob")
    await late.get_by_label("b", exact=True).check()
    await button(late, "Choose").click()
    await expect(late.locator(".notice")).to_contain_text("Someone else decided this meanwhile")
    await expect(late.locator("#outcome-line")).to_contain_text("(choose) by bob")
    assert (await other).data["value"] == "a"
    for page in (watcher, bob, late):
        await page.context.close()


async def test_a_key_without_respond_sees_no_buttons_and_a_forged_post_is_403(rig: Rig) -> None:
    iid, waiting = await asked(rig, "approval", prompt="Read only?")
    page = await rig.signed_in("viewer", "read")
    await page.goto(f"{rig.base}/inbox/i/{iid}")
    await expect(page.locator("#why-not")).to_contain_text("no 'respond' scope")
    await expect(page.locator("button[name=action]")).to_have_count(0)
    csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
    forged = await page.request.post(
        f"{rig.base}/inbox/i/{iid}",
        form={"csrf": csrf or "", "kind": "approval", "action": "approve"},
        max_redirects=0,
    )
    assert forged.status == 403
    no_token = await page.request.post(
        f"{rig.base}/inbox/i/{iid}",
        form={"kind": "approval", "action": "approve"},
        max_redirects=0,
    )
    assert no_token.status == 403
    assert not waiting.done()
    await rig.client.cancel(iid, reason="done testing")
    assert (await waiting).status.value == "cancelled"
    await page.context.close()


async def test_html_in_a_request_renders_as_text_in_the_browser(rig: Rig) -> None:
    attack = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    iid, waiting = await asked(
        rig,
        "approval",
        prompt=f"Evil {attack}",
        context={"html": attack, "deep": [attack]},
        labels={"x": attack},
        thread_id="xss",
    )
    page = await rig.signed_in("alice", "read", "respond")
    for path in ("/inbox/?thread=xss", f"/inbox/i/{iid}"):
        await page.goto(rig.base + path)
        await expect(page.get_by_text(re.compile(r"Evil <img src=x")).first).to_be_visible()
        assert await page.evaluate("window.pwned") is None
        assert await page.locator("img, script:not([src])").count() == 0
    await rig.client.cancel(iid)
    await waiting
    await page.context.close()


async def test_a_claim_is_taken_shown_live_to_others_and_released(rig: Rig) -> None:
    iid, waiting = await asked(rig, "approval", prompt="Roll back v2.0?", thread_id="claims")
    alice = await rig.signed_in("alice", "read", "respond", width=1100)
    bob = await rig.signed_in("bob", "read", "respond", width=1100)
    await bob.goto(f"{rig.base}/inbox/i/{iid}")
    await expect(bob.locator("body")).to_have_attribute("data-stream", "open")
    await alice.goto(f"{rig.base}/inbox/i/{iid}")
    await button(alice, "Claim it").click()
    claimed = re.compile(r"Claimed by alice until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
    await expect(alice.locator("#claim-line")).to_have_text(claimed)
    await expect(alice.locator(".notice")).to_contain_text("You hold the claim")
    await expect(bob.locator("#claim-line")).to_have_text(claimed)  # live, without a reload
    await alice.screenshot(path=rig.shots / "claimed.png", full_page=True)
    await accessible(alice, "a claimed interaction")

    await button(bob, "Approve").click()  # his form predates the claim: the broker refuses
    await expect(bob.locator(".alert")).to_contain_text("claimed by alice until")
    await expect(bob.locator("#why-not")).to_contain_text("only they may answer")
    await expect(bob.get_by_role("button", name="Approve")).to_have_count(0)
    await bob.goto(f"{rig.base}/inbox/?thread=claims")
    await expect(bob.locator(f"#i-{iid} .claim-line")).to_have_text(claimed)

    await button(alice, "Release the claim").click()
    await expect(alice.locator(".notice")).to_contain_text("The claim is released")
    await expect(alice.locator("#claim-line")).to_have_count(0)
    await button(alice, "Approve").click()
    await expect(alice.locator("#outcome-line")).to_contain_text("by alice")
    assert (await waiting).decided_by.identity.id == "alice"  # type: ignore[union-attr]
    for page in (alice, bob):
        await page.context.close()
