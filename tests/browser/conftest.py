"""The inbox in a real browser: Debian's Chromium driven by Playwright for Python, against a
broker and a gateway on the real RabbitMQ and Redis.

One rig per module (namespace, broker, gateway, producer, browser), shared by its tests in
one event loop, so the module pays for starting Chromium once. Playwright's own browser
download is never used: it launches /usr/bin/chromium (``.ci/run`` installs Debian's package
when it is missing), with the flags this machine needs (no background networking, no
sandbox as root).
"""

import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import axe_playwright_python
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from redis.asyncio import Redis

from hitl.adapters.redis.apikeys import RedisApiKeys
from hitl.adapters.redis.keys import Keys
from hitl.broker.service import BrokerService
from hitl.core.apikeys import mint
from hitl.gateway.service import GatewayService
from hitl.sdk import HitlClient
from hitl.settings import Settings
from hitl_contract import Identity
from tests.integration.gateway.conftest import gateway_settings
from tests.servers import AMQP_URL, REDIS_URL, REPLY_SERVICES, delete_namespace

CHROMIUM = os.environ.get("HITL_TEST_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")
ROOT = Path(__file__).resolve().parents[2]
# Where screenshots go: docs/inbox when HITL_SCREENSHOTS=1 (to refresh the docs), else a
# temporary folder (the tests still take them).
SHOTS_TO_DOCS = os.environ.get("HITL_SCREENSHOTS") == "1"


@dataclass
class Rig:
    settings: Settings
    gateway: GatewayService
    client: HitlClient
    browser: Browser
    redis: Redis
    shots: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.gateway.port}"

    async def key(self, identity: str, *scopes: str, display_name: str | None = None) -> str:
        token, record = mint(
            Identity(id=identity, display_name=display_name), scopes or ("read",), time.time()
        )
        records = RedisApiKeys(self.redis, Keys(self.settings.namespace, self.settings.shards))
        await records.add(record)
        return token

    async def context(
        self, width: int = 390, height: int = 844, javascript: bool = True
    ) -> BrowserContext:
        """A fresh browser profile (no cookies) with a viewport; CSP is bypassed only so the
        tests can inject axe-core."""
        return await self.browser.new_context(
            viewport={"width": width, "height": height},
            bypass_csp=True,
            java_script_enabled=javascript,
        )

    async def signed_in(
        self, identity: str, *scopes: str, width: int = 390, javascript: bool = True
    ) -> Page:
        context = await self.context(width, javascript=javascript)
        page = await context.new_page()
        await page.goto(f"{self.base}/inbox/")
        await page.get_by_label("API key").fill(await self.key(identity, *scopes))
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{self.base}/inbox/")
        return page


def _chromium() -> str:
    if Path(CHROMIUM).is_file() or shutil.which(CHROMIUM):
        return CHROMIUM
    reason = f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    executable = _chromium()
    namespace = f"test-{uuid.uuid4().hex[:12]}"
    settings = gateway_settings(namespace)
    broker = BrokerService(settings)
    await broker.start()
    gateway = GatewayService(settings)
    await gateway.start()
    redis: Redis = Redis.from_url(REDIS_URL)
    playwright = await async_playwright().start()
    browser = await playwright.chromium.launch(executable_path=executable, args=FLAGS)
    shots = ROOT / "docs" / "inbox" if SHOTS_TO_DOCS else tmp_path_factory.mktemp("inbox")
    try:
        async with HitlClient.connect(AMQP_URL, service="producer", namespace=namespace) as client:
            yield Rig(settings, gateway, client, browser, redis, shots)
    finally:
        await browser.close()
        await playwright.stop()
        await redis.aclose()
        await gateway.stop()
        await broker.stop()
        await delete_namespace(namespace, extra_queues=REPLY_SERVICES)


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    await page.add_script_tag(content=AXE)
    result: dict[str, Any] = await page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def horizontal_overflow(page: Page) -> int:
    """How many pixels the page is wider than the viewport (0: no horizontal scroll)."""
    overflow: int = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return overflow
