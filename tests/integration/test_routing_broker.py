"""The broker routes notifications by a routing config: one per receiver, held outside time
windows, reminded and escalated per route, recorded in the history; the file is reloaded on
SIGHUP and on change, and a bad file is reported while the previous config stays in force."""

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import orjson
import pytest

from hitl.adapters.config.routing import RoutingConfigError
from hitl.adapters.memory import ManualClock
from hitl.broker.service import BrokerService
from hitl.runtime.stores import redis_store
from hitl.settings import Settings
from tests.helpers import eventually, lifecycle_events, publish_raw, raw_request
from tests.servers import test_settings

MONDAY_NOON = datetime(2026, 12, 7, 12, tzinfo=ZoneInfo("UTC")).timestamp()
SATURDAY_NOON = datetime(2026, 12, 5, 12, tzinfo=ZoneInfo("UTC")).timestamp()

CONFIG = """\
receivers:
  - {name: desk, type: terminal}
  - {name: fin, type: email, to: [fin@example.com]}
  - {name: bot, type: webhook, url: "https://bot.example.com/hook"}
  - {name: boss, type: terminal}
time_windows:
  - name: weekdays
    ranges: [{weekdays: ["monday:friday"]}]
route:
  receivers: [desk]
  routes:
    - matchers: [team=fin]
      receivers: [fin, bot]
      reminder_every: 60s
      max_reminders: 1
      escalation: [{after: 5m, receivers: [boss, fin]}]
    - matchers: [team=ops]
      receivers: [bot]
      active_time: [weekdays]
"""


@pytest.fixture
def routing_file(tmp_path: Path) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
async def routed(
    namespace: str, routing_file: Path
) -> AsyncIterator[tuple[BrokerService, ManualClock]]:
    clock = ManualClock(MONDAY_NOON)
    settings = test_settings(namespace, routing_file=str(routing_file), routing_watch_seconds=0.05)
    broker = BrokerService(settings, clock=clock)
    await broker.start()
    yield broker, clock
    await broker.stop()


async def ask(broker: BrokerService, amqp, **fields) -> str:
    body = raw_request(**fields)
    await publish_raw(amqp, broker.names.requests, orjson.dumps(body))
    return str(body["id"])


def rewrite(path: Path, text: str) -> None:
    path.write_text(text)


def keys(messages, iid: str) -> list[tuple[str, str]]:
    """(routing key, message id) of each notification of ``iid``, once: the clock jumps, so
    the relay may republish an entry the janitor had not deleted yet (same message id)."""
    return sorted({(m.routing_key, m.message_id) for m in messages if m.correlation_id == iid})


async def test_each_receiver_gets_its_notification_reminders_and_escalation(
    routed, amqp, capture, redis
) -> None:
    broker, clock = routed
    async with capture(broker.names.notifications) as notes:
        iid = await ask(broker, amqp, labels={"team": "fin"})
        await notes.wait_for(lambda m: len(keys(m, iid)) == 2)
        assert keys(notes.messages, iid) == [
            ("bot.approval", f"notification:{iid}:requested:1:bot"),
            ("fin.approval", f"notification:{iid}:requested:1:fin"),
        ]
        clock.advance(60)  # the route's reminder, once (max_reminders: 1)
        await notes.wait_for(lambda m: len(keys(m, iid)) == 4)
        clock.advance(60)
        await asyncio.sleep(0.3)
        assert len(keys(notes.messages, iid)) == 4
        clock.advance(180)  # five minutes in: boss is added, fin was reached already
        await notes.wait_for(lambda m: len(keys(m, iid)) == 5)
        assert keys(notes.messages, iid)[0] == (
            "boss.approval",
            f"notification:{iid}:escalation:4:boss",
        )
    store = redis_store(redis, broker.settings)
    history = await store.history(UUID(iid))
    steps = [(h.event, h.receivers) for h in history]
    assert steps[:2] == [("requested", None), ("notified", ["fin", "bot"])]
    assert ("escalated", ["boss"]) in steps


async def test_outside_its_window_a_notification_is_held_until_the_window_opens(
    routed, amqp, capture
) -> None:
    broker, clock = routed
    clock.now = SATURDAY_NOON
    async with capture(broker.names.notifications) as notes:
        iid = await ask(broker, amqp, labels={"team": "ops"})
        await eventually(lambda: _exists(broker, iid))
        await asyncio.sleep(0.3)
        assert keys(notes.messages, iid) == []
        clock.now = MONDAY_NOON - 12 * 3600  # Monday 00:00 UTC: the window opens
        await notes.wait_for(lambda m: len(keys(m, iid)) == 1)
        assert keys(notes.messages, iid) == [
            ("bot.approval", f"notification:{iid}:requested:1:bot")
        ]


async def _exists(broker: BrokerService, iid: str) -> bool:
    assert broker.store is not None
    return await broker.store.load(UUID(iid)) is not None


async def test_a_bad_file_is_reported_and_the_previous_config_stays(
    routed, amqp, capture, routing_file: Path
) -> None:
    broker, _ = routed
    async with capture(broker.names.events, "rejected.#") as rejected:
        rewrite(routing_file, CONFIG.replace("receivers: [bot]", "receivers: [robot]"))
        await rejected.wait_for(lambda m: len(m) == 1)
        [event] = lifecycle_events(rejected.messages)
        assert event.source == "routing" and event.error is not None
        assert event.error.code == "invalid_config"
        assert "routing.yaml:18:19: route.routes[1].receivers[0]: 'robot' is not a receiver" in (
            event.error.message
        )
    metric = broker.metrics.registry.get_sample_value
    assert metric("hitl_routing_reloads_total", {"result": "refused"}) == 1
    assert metric("hitl_routing_config_last_reload_successful") == 0
    async with capture(broker.names.notifications) as notes:
        iid = await ask(broker, amqp, labels={"team": "ops"})
        await notes.wait_for(lambda m: len(keys(m, iid)) == 1)  # still the old config: bot

        rewrite(routing_file, CONFIG.replace("receivers: [bot]", "receivers: [boss]"))
        await eventually(lambda: metric("hitl_routing_reloads_total", {"result": "applied"}) == 1)
        assert metric("hitl_routing_config_last_reload_successful") == 1
        iid = await ask(broker, amqp, labels={"team": "ops"})
        await notes.wait_for(lambda m: len(keys(m, iid)) == 1)
        assert keys(notes.messages, iid)[0][0] == "boss.approval"


async def test_sighup_reloads_the_file(routed, routing_file: Path) -> None:
    broker, _ = routed
    metric = broker.metrics.registry.get_sample_value
    before = metric("hitl_routing_reloads_total", {"result": "applied"})
    os.kill(os.getpid(), signal.SIGHUP)
    await eventually(
        lambda: metric("hitl_routing_reloads_total", {"result": "applied"}) == before + 1
    )


async def test_a_request_naming_its_route_and_a_broker_without_a_file_route_as_before(
    routed, amqp, capture, settings: Settings
) -> None:
    broker, _ = routed
    async with capture(broker.names.notifications) as notes:
        iid = await ask(broker, amqp, route="pager", labels={"team": "fin"})
        await notes.wait_for(lambda m: len(keys(m, iid)) == 1)
        assert keys(notes.messages, iid) == [("pager.approval", f"notification:{iid}:requested:1")]


async def test_an_invalid_file_stops_the_start_with_its_errors(
    namespace: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG.replace("type: email", "type: fax"))
    broker = BrokerService(test_settings(namespace, routing_file=str(bad)))
    with pytest.raises(RoutingConfigError, match=r"bad.yaml:3:\d+: receivers\[1\].type"):
        await broker.start()
