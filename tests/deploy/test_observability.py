"""The alert rules and the dashboard (helm/hitl/files/) against a real Prometheus scraping a
real broker, gateway and webhook notifier: every expression parses and evaluates, names only
metrics hitl exports, the main panels show data after a few interactions, deliveries to webhook
receivers on loopback and HTTP requests, and each alert fires and stays quiet as its promtool
unit tests say. docs/deploy/observability.md documents every metric and alert.

Prometheus and promtool come from Debian's package (``tests/deploy/prometheus.py``), installed
on first use when missing; hence the long timeout of this module (an install takes a minute or
two), each wait in it is bounded on its own.
"""

import asyncio
import json
import re
import subprocess
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from hitl.adapters.redis.apikeys import RedisApiKeys
from hitl.adapters.redis.keys import Keys
from hitl.broker.service import BrokerService
from hitl.core.apikeys import mint
from hitl.gateway.service import GatewayService
from hitl.notifiers.channels.webhook import WebhookChannel
from hitl.notifiers.metrics import NotifierMetrics
from hitl.notifiers.service import NotifierService
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from hitl_contract import Identity, ReceiptResult
from tests.deploy import prometheus as prom
from tests.helpers import answer, dead_letters, publish_raw
from tests.servers import test_settings
from tests.webhooks import SECRET, RecordingServer, recording_server, status

pytestmark = pytest.mark.timeout(600)

DOCS = prom.ROOT / "docs/deploy/observability.md"
# Panels that must show data once a request was approved, one timed out, an answer came early
# and a bad request was dead-lettered.
MAIN_PANELS = (
    "Brokers ready",
    "Readiness by instance",
    "Consumers attached",
    "Pending interactions",
    "Oldest pending",
    "Pending by kind (net change over the range)",
    "Requests accepted by kind",
    "Outcomes by status",
    "Outcomes by kind and action",
    "Time to resolution",
    "Timeouts by kind",
    "Notifications by reason",
    "Early answers",
    "Dead letters",
    "Refused messages",
    "Handler latency",
    "Outbox",
    "Event-loop lag",
    "CPU",
    "Memory",
    "HTTP requests by route and status",
    "HTTP latency p95 by route",
    "HTTP 5xx ratio",
    "Deliveries by receiver and result",
    "Delivery attempts by outcome",
    "Delivery latency",
    "Updates on decision",
    "Routing reloads",
    "Routing config loaded",
)
JOBS = ("hitl-broker", "hitl-gateway", "hitl-notifier-webhook")
# What the notifications of the live test are made to do, on purpose (each fires its alert):
# one receiver refuses (400, not retried) and falls back; another refuses with no fallback.
FIRING = {"HitlDeadLetters", "HitlNotificationsFallingBack", "HitlNotificationsUndelivered"}


@pytest.fixture(scope="session")
def binaries() -> prom.Binaries:
    try:
        return prom.binaries()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
async def receivers() -> AsyncIterator[tuple[RecordingServer, RecordingServer]]:
    """Webhook receivers on loopback: one that takes everything (204), one that refuses (400)."""
    async with recording_server() as ops, recording_server() as refusing:
        refusing.default = status(400)
        yield ops, refusing


@pytest.fixture
def settings(
    namespace: str, tmp_path: Path, receivers: tuple[RecordingServer, RecordingServer]
) -> Settings:
    """Routing for every process: requests reach ``obs-hook``; those labelled team=fallback
    reach ``obs-refusing``, which falls back to ``obs-hook``; team=lost ``obs-lost``, which
    refuses with no fallback."""
    ops, refusing = receivers
    secret = tmp_path / "webhook-secret"
    secret.write_text(SECRET)

    def hook(name: str, url: str) -> str:
        return (f"  - {{name: {name}, type: webhook, url: '{url}', allow_private: true, "
                f"timeout: 5s, secret: {{file: '{secret}'}}}}\n")  # fmt: skip

    routing = tmp_path / "routing.yaml"
    routing.write_text(
        "receivers:\n"
        + hook("obs-hook", ops.url) + hook("obs-refusing", refusing.url)
        + hook("obs-lost", refusing.url)
        + "route:\n  receivers: [obs-hook]\n  routes:\n"
        "    - {matchers: [team=fallback], receivers: [obs-refusing], fallback: obs-hook}\n"
        "    - {matchers: [team=lost], receivers: [obs-lost]}\n"
    )  # fmt: skip
    return test_settings(
        namespace, metrics_port=prom.free_port(), routing_file=str(routing),
        notifier_retry_cap_seconds=0.05,
    )  # fmt: skip


# --- offline: promtool and the files ---------------------------------------------------------


def promtool(binaries: prom.Binaries, *args: str) -> str:
    done = subprocess.run(
        [binaries.promtool, *args],
        cwd=prom.RULES.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"promtool {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout


def test_rules_pass_promtool_check_and_their_unit_tests(binaries: prom.Binaries) -> None:
    assert "SUCCESS" in promtool(binaries, "check", "rules", prom.RULES.name)
    assert "SUCCESS" in promtool(binaries, "test", "rules", prom.RULE_TESTS.name)


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    import yaml

    cases = [
        case
        for test in yaml.safe_load(prom.RULE_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    for alert in prom.rule_exprs():
        mine = [c for c in cases if c["alertname"] == alert]
        assert any(c["exp_alerts"] for c in mine), f"{alert}: no case where it fires"
        assert any(not c["exp_alerts"] for c in mine), f"{alert}: no case where it stays quiet"


def test_dashboard_takes_its_datasource_as_a_variable() -> None:
    board = prom.dashboard()
    [ds] = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
    assert ds["query"] == "prometheus"
    uid = "${" + ds["name"] + "}"
    for panel in prom.panels(board):
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert all(t["datasource"]["uid"] == uid for t in panel["targets"]), panel["title"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    assert not set(MAIN_PANELS) - set(prom.panel_exprs(board)), "a main panel was renamed"


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        'histogram_quantile(0.9, sum by (le, kind) (rate(a_bucket{job=~"x", s="b c"}[5m])))'
        ' / on (kind) group_left b_total offset 1m > bool 1e3 and absent(c{d="e"})'
    )
    assert prom.metric_names(expr) == {"a_bucket", "b_total", "c"}
    assert prom.metric_names("label_values(hitl_ready, job)") == {"hitl_ready"}


# --- live: a broker scraped by Prometheus -----------------------------------------------------


@pytest.fixture
async def gateway(settings: Settings, broker: BrokerService) -> AsyncIterator[GatewayService]:
    """A gateway beside the broker, its ops endpoint on a port of its own."""
    service = GatewayService(
        settings.model_copy(update={"metrics_port": prom.free_port(), "gateway_port": 0})
    )
    await service.start()
    yield service
    await service.stop()


@pytest.fixture
async def notifier(
    settings: Settings, broker: BrokerService, amqp: AbstractRobustConnection
) -> AsyncIterator[NotifierService]:
    """``hitl notifier webhook`` for the routing file's receivers, its ops endpoint on a port
    of its own; its queues go with it (the namespace's teardown knows only the broker's)."""
    service = NotifierService(
        settings.model_copy(update={"metrics_port": prom.free_port()}), WebhookChannel()
    )
    await service.start()
    yield service
    await service.stop()
    channel = await amqp.channel()
    try:
        for receiver in service.receivers:
            await channel.queue_delete(service.names.notifier_queue(receiver))
        await channel.queue_delete(service.names.notifier_settled_queue("webhook"))
    finally:
        await channel.close()


@pytest.fixture
def prometheus(
    binaries: prom.Binaries,
    broker: BrokerService,
    gateway: GatewayService,
    notifier: NotifierService,
) -> Iterator[prom.Prometheus]:
    assert broker.ops is not None and gateway.host.ops is not None
    assert notifier.host.ops is not None
    targets = {
        "hitl-broker": [f"127.0.0.1:{broker.ops.port}"],
        "hitl-gateway": [f"127.0.0.1:{gateway.host.ops.port}"],
        "hitl-notifier-webhook": [f"127.0.0.1:{notifier.host.ops.port}"],
    }
    with prom.running(binaries.prometheus, targets) as server:
        yield server


async def call_the_gateway(gateway: GatewayService, redis: Redis, settings: Settings) -> None:
    """A listing (200), an unknown interaction (404) and a request without a key (401)."""
    token, record = mint(Identity(id="obs"), ("read",), time.time())
    await RedisApiKeys(redis, Keys(settings.namespace, settings.shards)).add(record)
    base = f"http://127.0.0.1:{gateway.port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        headers = {"Authorization": f"Bearer {token}"}
        assert (await http.get("/v1/interactions", headers=headers)).status_code == 200
        unknown = f"/v1/interactions/{uuid.uuid4()}"
        assert (await http.get(unknown, headers=headers)).status_code == 404
        assert (await http.get("/v1/interactions")).status_code == 401


async def run_interactions(
    broker: BrokerService,
    client: HitlClient,
    responder: Responder,
    amqp: AbstractRobustConnection,
    settings: Settings,
) -> None:
    """One approved, one timed out, one answered before it was asked, one dead-lettered."""
    approved = client.new_request("approval", thread_id="obs", prompt="Ship it?")
    asked = asyncio.create_task(client.ask(approved, timeout=15))
    await asyncio.sleep(0.3)  # pending for a moment, so the gauges can see it
    receipt = await responder.respond(answer(approved.id, "approve"))
    assert receipt is not None and receipt.result == ReceiptResult.ACCEPTED
    assert (await asked).status == "resolved"

    timing_out = client.new_request(
        "approval", thread_id="obs", prompt="quick!", timeout_seconds=0.5,
        on_timeout={"action": "reject", "data": {}},
    )  # fmt: skip
    assert (await client.ask(timing_out, timeout=15)).status == "timed_out"

    early = client.new_request("approval", thread_id="obs", prompt="already answered")
    receipt = await responder.respond(answer(early.id, "approve"))
    assert receipt is not None and receipt.result == ReceiptResult.HELD
    assert (await client.ask(early, timeout=15)).status == "resolved"

    await publish_raw(amqp, broker.names.requests, b'{"oops', "approval", message_id="bad-obs")
    [dead] = await dead_letters(amqp, settings.namespace, 1)
    assert dead.headers["x-hitl-error-code"] == "malformed_json"


async def notify_receivers(
    client: HitlClient, receivers: tuple[RecordingServer, RecordingServer]
) -> None:
    """Two requests whose receiver refuses them (left pending): one falls back to obs-hook,
    the other is dead-lettered. The earlier interactions were delivered to obs-hook and, once
    decided, updated there."""
    ops, refusing = receivers
    for team in ("fallback", "lost"):
        request = client.new_request(
            "approval", thread_id="obs", prompt=f"for {team}", labels={"team": team}
        )
        await client.submit(request)
    await until("both refused", lambda: len(refusing.received) >= 2)

    def fell_back() -> bool:
        bodies = [json.loads(r.body) for r in ops.received]
        labels = [
            b["notification"]["request"].get("labels", {}) for b in bodies if "notification" in b
        ]
        return {"team": "fallback"} in labels

    await until("the fallback delivered", fell_back)


async def until(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """``check()`` (run in a thread: it calls Prometheus) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = await asyncio.to_thread(check)
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        await asyncio.sleep(0.5)


_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported_names(*ports: int) -> tuple[set[str], set[str]]:
    """The series names the /metrics of these ops ports declare (a labelled metric with no
    series yet is declared by its HELP and TYPE lines), and those they have samples of now."""
    declared: set[str] = set()
    sampled: set[str] = set()
    for port in ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            families = list(text_string_to_metric_families(r.read().decode()))
        sampled |= {s.name for f in families for s in f.samples}
        declared |= {f.name + s for f in families for s in _SUFFIXES.get(f.type, ("",))}
    return declared | sampled, sampled


async def test_prometheus_scrapes_the_broker_and_every_panel_and_rule_works(
    broker: BrokerService,
    gateway: GatewayService,
    client: HitlClient,
    responder: Responder,
    amqp: AbstractRobustConnection,
    redis: Redis,
    settings: Settings,
    notifier: NotifierService,
    receivers: tuple[RecordingServer, RecordingServer],
    prometheus: prom.Prometheus,
) -> None:
    # As in production, Prometheus knows the services before the first dead letter comes.
    await until(
        "the first scrape of every service",
        lambda: len(prometheus.query("hitl_ready")["data"]["result"]) == len(JOBS),
    )
    assert notifier.receivers == {"obs-hook", "obs-refusing", "obs-lost"}
    await run_interactions(broker, client, responder, amqp, settings)
    await notify_receivers(client, receivers)
    await call_the_gateway(gateway, redis, settings)
    await until(
        "the interactions' metrics scraped",
        lambda: all(
            prometheus.query(expr)["data"]["result"]
            for expr in (
                'hitl_dead_lettered_total{code="malformed_json"} > 0'
                ' and on (job) hitl_outcomes_total{status="timed_out"} > 0',
                'hitl_http_requests_total{status="404"} > 0',
                'hitl_notifier_deliveries_total{result="undelivered"} > 0',
                'hitl_notifier_deliveries_total{result="fell_back"} > 0',
                'hitl_notifier_updates_total{result="ok"} > 0',
                'sum(hitl_notifier_deliveries_total{receiver="obs-hook",result="delivered"}) >= 3',
            )
        ),
    )
    board = prom.dashboard()
    exprs = {f"rule {name}": [e] for name, e in prom.rule_exprs().items()}
    exprs |= {f"panel {title}": es for title, es in prom.panel_exprs(board).items()}

    await every_expression_evaluates(prometheus, exprs)
    await every_metric_is_exported(
        prometheus, (broker, gateway, notifier), exprs, prom.variable_queries(board)
    )
    await main_panels_show_what_happened(prometheus, prom.panel_exprs(board))
    await rules_evaluate_and_what_happened_fires(prometheus)


async def every_expression_evaluates(
    prometheus: prom.Prometheus, exprs: dict[str, list[str]]
) -> None:
    for where, queries in exprs.items():
        for expr in queries:
            answer_ = await asyncio.to_thread(prometheus.query, expr)
            assert answer_["status"] == "success", f"{where}: {expr}\n{answer_.get('error')}"


async def every_metric_is_exported(
    prometheus: prom.Prometheus,
    services: tuple[BrokerService, GatewayService, NotifierService],
    exprs: dict[str, list[str]],
    variable_queries: list[str],
) -> None:
    """Every metric the rules and panels name is one the broker, the gateway or the notifier
    exports, and Prometheus has scraped those that have series."""
    referenced: dict[str, set[str]] = {}
    for where, queries in [*exprs.items(), ("a dashboard variable", variable_queries)]:
        for expr in queries:
            for name in prom.metric_names(expr):
                referenced.setdefault(name, set()).add(where)
    assert referenced, "no metric names read from the rules and the dashboard"
    ports = [service.host.ops.port for service in services if service.host.ops is not None]
    assert len(ports) == len(services)
    exported, sampled = await asyncio.to_thread(exported_names, *ports)
    unknown = {n: sorted(w) for n, w in referenced.items() if n not in exported}
    assert not unknown, f"not exported by hitl: {unknown}"
    names = await asyncio.to_thread(
        prometheus.api, "label/__name__/values", **{"match[]": f'{{job=~"{"|".join(JOBS)}"}}'}
    )
    not_scraped = (set(referenced) & sampled) - set(names["data"])
    assert not not_scraped, f"exported but not in Prometheus: {not_scraped}"


async def main_panels_show_what_happened(
    prometheus: prom.Prometheus, panel_queries: dict[str, list[str]]
) -> None:
    def empty_panels() -> list[str]:
        return [
            f"{title}: {expr}"
            for title in MAIN_PANELS
            for expr in panel_queries[title]
            if not prometheus.query(expr)["data"]["result"]
        ]

    try:
        await until("main panels with data", lambda: not empty_panels(), timeout=30)
    except AssertionError:
        raise AssertionError("panels without data:\n" + "\n".join(empty_panels())) from None

    def value(expr: str) -> float:
        [series] = prometheus.query(expr)["data"]["result"]
        return float(series["value"][1])

    assert value('sum(hitl_ready{job="hitl-broker",role="broker"})') == 1
    assert value('sum(hitl_consumer_attached{job="hitl-broker"})') == 2
    assert value('sum(hitl_outcomes_total{status="timed_out"})') == 1
    assert value('sum(hitl_outcomes_total{status="resolved"})') == 2
    assert value('sum(hitl_early_answers_total{result="applied"})') == 1
    assert value('sum(hitl_dead_lettered_total{source="requests",code="malformed_json"})') == 1
    assert value('sum(hitl_ready{job="hitl-gateway",role="gateway"})') == 1
    assert value('sum(hitl_http_requests_total{route="/v1/interactions",status="200"})') >= 1
    assert value('sum(hitl_http_requests_total{status="401"})') == 1
    assert value('(sum(hitl_http_requests_total{status=~"5.."}) or vector(0))') == 0
    assert value('sum(hitl_ready{job="hitl-notifier-webhook",role="notifier-webhook"})') == 1
    deliveries = 'sum(hitl_notifier_deliveries_total{receiver="%s",result="%s"})'
    assert value(deliveries % ("obs-hook", "delivered")) >= 3  # approved, timed out, fallback
    assert value(deliveries % ("obs-refusing", "fell_back")) == 1
    assert value(deliveries % ("obs-lost", "undelivered")) == 1
    assert value('sum(hitl_notifier_attempts_total{outcome="permanent"})') == 2
    assert value('sum(hitl_notifier_attempts_total{outcome="retryable"})') == 0
    assert value('sum(hitl_notifier_updates_total{result="failed"})') == 0
    assert value("sum(hitl_routing_config_last_reload_successful)") == len(JOBS)
    assert value("sum(hitl_routing_reloads_total)") == 0


async def rules_evaluate_and_what_happened_fires(prometheus: prom.Prometheus) -> None:
    """The rules evaluate without errors on real data; the dead letter fires HitlDeadLetters,
    the refused notifications HitlNotificationsFallingBack and HitlNotificationsUndelivered
    (their counters start at 0, so increase() sees the first one), and nothing else fires."""

    def rules_evaluated() -> list[dict[str, Any]]:
        rules = [r for g in prometheus.api("rules")["data"]["groups"] for r in g["rules"]]
        done = all(r.get("lastEvaluation", "").startswith("2") for r in rules)
        return rules if done and len(rules) == len(prom.rule_exprs()) else []

    rules = await until("every rule evaluated", rules_evaluated)
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]

    def firing() -> set[str]:
        alerts = prometheus.api("alerts")["data"]["alerts"]
        return {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}

    try:
        await until(f"{sorted(FIRING)} firing", lambda: firing() >= FIRING)
    except AssertionError:
        raise AssertionError(f"firing: {prometheus.api('alerts')}") from None
    assert firing() == FIRING, "healthy services fire nothing else"


async def test_docs_describe_every_metric_and_alert(
    broker: BrokerService, gateway: GatewayService
) -> None:
    docs = DOCS.read_text()
    families = {f.name for f in broker.metrics.registry.collect()}
    families |= {f.name for f in gateway.registry.collect()}
    families |= {f.name for f in NotifierMetrics().registry.collect()}
    assert {"hitl_http_requests", "hitl_notifier_deliveries", "hitl_routing_reloads"} <= families
    missing = [
        f
        for f in sorted(families)
        if not re.search(rf"`{f}(_total)?`", docs) and not f.startswith("process_")
    ]
    assert not missing, f"metrics not in {DOCS.name}: {missing}"
    assert "process_" in docs
    missing_alerts = [a for a in prom.rule_exprs() if f"### {a}" not in docs]
    assert not missing_alerts, f"alerts not in {DOCS.name}: {missing_alerts}"


async def test_new_gauges_follow_the_store_and_readiness(
    broker: BrokerService, client: HitlClient
) -> None:
    """hitl_pending_interactions, hitl_oldest_pending_age_seconds and hitl_outbox_entries come
    from the store; hitl_ready and hitl_consumer_attached from the checks behind /readyz."""
    assert broker.store is not None and broker.ops is not None
    request = client.new_request("approval", thread_id="obs", prompt="wait", timeout_seconds=60)
    before = time.time()
    await client.submit(request)

    async def scrape() -> dict[str, float]:
        assert broker.ops is not None
        url = f"http://127.0.0.1:{broker.ops.port}/metrics"
        text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
        return {
            s.name + str(sorted(s.labels.values())): s.value
            for f in text_string_to_metric_families(text.decode())
            for s in f.samples
        }

    async def pending_seen() -> bool:
        return (await broker.store.backlog()).pending == 1  # type: ignore[union-attr]

    await until_async(pending_seen)
    backlog = await broker.store.backlog()
    assert backlog.oldest_requested_at is not None
    assert before - 1 <= backlog.oldest_requested_at <= time.time()
    await asyncio.sleep(2.5)  # the poller sets the store's gauges every 2 s
    await asyncio.sleep(0.5)
    samples = await scrape()
    assert samples["hitl_pending_interactions[]"] == 1
    assert 0 < samples["hitl_oldest_pending_age_seconds[]"] < 60
    assert samples["hitl_outbox_entries[]"] >= 0
    assert samples["hitl_ready['broker']"] == 1
    queue = f"['broker', '{broker.names.namespace}.broker.requests']"
    [name] = [k for k in samples if k.startswith("hitl_consumer_attached") and "requests" in k]
    assert samples[name] == 1, queue

    consumer = next(c for n, c in broker.host._queues if n.endswith("requests"))
    await consumer.cancel()
    samples = await scrape()
    assert samples[name] == 0
    assert samples["hitl_ready['broker']"] == 0
    component = [k for k in samples if k.startswith("hitl_component_ready") and "requests" in k]
    assert [samples[k] for k in component] == [0]


async def until_async(check: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)
