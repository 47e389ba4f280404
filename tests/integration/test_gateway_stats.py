"""GET /v1/stats and ``hitl stats`` on the counters a real broker kept: interactions approved,
rejected, timed out, cancelled and still pending, the report's numbers checked exactly."""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from hitl.broker.service import BrokerService
from hitl.gateway.deps import GatewayContext, Scope
from hitl.gateway.fanout import Fanout
from hitl.gateway.routers import stats
from hitl.runtime.stores import open_reads
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from tests.helpers import answer, eventually
from tests.integration.test_cli import hitl
from tests.served import StaticKeys, app_of, serve

READER = "reader-token"


@pytest.fixture
async def stats_url(settings: Settings) -> AsyncIterator[str]:
    keys = StaticKeys()
    keys.add(READER, "ana", Scope.READ)
    async with open_reads(settings) as reads:
        context = GatewayContext(settings, reads, keys, Fanout(10), time.time)
        async with serve(app_of(context, [stats.router])) as url:
            yield url


async def drive(client: HitlClient, responder: Responder, settings: Settings) -> None:
    """Seven interactions: two approvals at the 'review' node (alice approves at once, bob
    rejects after a second), one that times out at 'deploy', one alice approves with no node,
    a text input its producer cancels, and two still pending (one at 'deploy' for ana only)."""
    new = client.new_request
    review = [new("approval", thread_id="s", prompt=p, node_name="review") for p in "ab"]
    timed = new("approval", thread_id="s", prompt="t", node_name="deploy", timeout_seconds=0.3)
    plain = new("approval", thread_id="s", prompt="p")
    text = new("text_input", thread_id="s", prompt="x")
    waiting = new("approval", thread_id="s", prompt="w", node_name="deploy", responders=["ana"])
    idle = new("approval", thread_id="s", prompt="i")
    asked = [asyncio.create_task(client.ask(r, timeout=20)) for r in (*review, timed, plain, text)]
    for r in (waiting, idle):
        await client.submit(r)
    await responder.respond(answer(review[0].id, "approve", who="alice"))
    await responder.respond(answer(plain.id, "approve", who="alice"))
    await client.cancel(text.id, reason="not needed")
    await asyncio.sleep(1.2)  # bob answers in the (1 s, 2 s] response time bucket
    await responder.respond(answer(review[1].id, "reject", who="bob"))
    outcomes = await asyncio.gather(*asked)
    assert [o.status for o in outcomes] == [
        "resolved", "resolved", "timed_out", "resolved", "cancelled"
    ]  # fmt: skip

    async def both_pending_counted() -> bool:
        async with open_reads(settings) as reads:
            return (await reads.pending_counts()).get("k|approval") == 2

    await eventually(both_pending_counted)


def rates(group: dict[str, Any]) -> tuple[Any, ...]:
    return (
        group["count"],
        group["finished"],
        group["resolved"],
        group["cancelled"],
        group["timed_out"],
        group["pending"],
        group["approval_rate"],
        group["timeout_rate"],
        group["cancel_rate"],
    )


async def test_the_report_counts_what_the_broker_did(
    broker: BrokerService,
    client: HitlClient,
    responder: Responder,
    settings: Settings,
    stats_url: str,
) -> None:
    await drive(client, responder, settings)
    async with httpx.AsyncClient(
        base_url=stats_url, headers={"Authorization": f"Bearer {READER}"}
    ) as http:
        response = await http.get("/v1/stats", params={"window": "1h"})
    assert response.status_code == 200, response.text
    body = response.json()
    # count, finished, resolved, cancelled, timed_out, pending, approval, timeout, cancel rates
    assert rates(body["total"]) == (7, 5, 3, 1, 1, 2, 0.6667, 0.2, 0.2)
    assert rates(body["by_kind"]["approval"]) == (6, 4, 3, 0, 1, 2, 0.6667, 0.25, 0.0)
    assert rates(body["by_kind"]["text_input"]) == (1, 1, 0, 1, 0, 0, None, 0.0, 1.0)
    assert rates(body["by_node"]["review"]) == (2, 2, 2, 0, 0, 0, 0.5, 0.0, 0.0)
    assert rates(body["by_node"]["deploy"]) == (2, 1, 0, 0, 1, 1, None, 1.0, 0.0)
    # Decisions by people (not the timeout): three within a second, bob's in (1, 2]. The
    # percentiles are interpolated inside the counters' buckets.
    assert times(body["total"]) == (0.667, 1.8)  # ranks 2 and 3.8 of 4
    assert times(body["by_kind"]["approval"]) == (0.75, 1.85)  # 1.5 and 2.85 of 3
    assert times(body["by_kind"]["text_input"]) == (0.5, 0.95)
    assert times(body["by_node"]["review"]) == (1.0, 1.9)
    assert times(body["by_node"]["deploy"]) == (None, None)
    responders = {name: (r["answers"], r["pending"]) for name, r in body["by_responder"].items()}
    assert responders == {"alice": (2, 0), "bob": (1, 0), "producer": (1, 0), "ana": (0, 1),
                          "*": (0, 1)}  # fmt: skip
    assert times(body["by_responder"]["bob"]) == (1.5, 1.95)
    bottlenecks = body["bottlenecks"]
    assert bottlenecks["most_pending_nodes"] == [{"name": "deploy", "pending": 1}]
    assert [p["name"] for p in bottlenecks["most_pending_responders"]] == ["*", "ana"]
    assert [s["name"] for s in bottlenecks["slowest_nodes"]] == ["review"]
    assert [s["name"] for s in bottlenecks["slowest_responders"]] == ["bob", "alice", "producer"]

    code, out, err = await hitl(settings, "stats", "--window", "1h", "--json")
    assert code == 0, err
    from_cli = orjson.loads(out)
    for when in ("since", "until"):  # the CLI's now is a moment later
        from_cli.pop(when), body.pop(when)
    assert from_cli == body

    code, out, err = await hitl(settings, "stats", "--window", "1h")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("from ") and lines[0].endswith("(counted by the hour)")
    row = next(line.split() for line in lines if line.startswith("review "))
    assert row == ["review", "2", "2", "0", "50%", "0%", "0%", "1s", "1.9s"]
    total = next(line.split() for line in lines if line.startswith("(all) "))
    assert total == ["(all)", "7", "5", "2", "67%", "20%", "20%", "0.667s", "1.8s"]
    assert "  most pending nodes: deploy (1)" in lines
    assert "  slowest responders: bob (p95 1.95s), alice (p95 0.95s), producer (p95 0.95s)" in lines


async def test_a_window_the_counters_cannot_answer_is_refused(
    settings: Settings, stats_url: str
) -> None:
    async with httpx.AsyncClient(base_url=stats_url) as http:
        assert (await http.get("/v1/stats")).status_code == 401
        http.headers["Authorization"] = f"Bearer {READER}"
        too_far = await http.get("/v1/stats", params={"window": "6w"})
        both = await http.get("/v1/stats", params={"window": "1h", "since": "2026-01-01T00:00"})
        malformed = await http.get("/v1/stats", params={"window": "yesterday"})
    assert too_far.status_code == 400
    problem = too_far.json()
    assert problem["path"] == "window" and "go back 3024000s" in problem["detail"]
    assert both.status_code == 400 and both.json()["path"] == "since"
    assert malformed.status_code == 422  # the app's handlers make it a 400
    code, _, err = await hitl(settings, "stats", "--window", "6w")
    assert code == 2 and "must start after" in err and "(--window)" in err
    code, _, err = await hitl(settings, "stats", "--top", "0")
    assert code == 2 and "not a number from 1 to 100" in err


def times(group: dict[str, Any]) -> tuple[Any, Any]:
    return group["response_time_p50_seconds"], group["response_time_p95_seconds"]
