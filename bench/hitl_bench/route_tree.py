"""Issue 14's routing figures: a generated, realistic route tree of N routes (1,000 by default),
the requests that go through it, and the time of the routing decision itself, in process.

The tree is what an organisation with many teams writes: under the root, two routes that
match on a regex and say ``continue`` (security sees every high or critical request, audit
every SOX or PCI one), then a route per team (``team=<t>``), a route per service of the team
(``service=<s>``, every fourth one a regex over a family of services), and under each service
routes by environment (``env=production`` with ``continue``, ``env=staging``, ``env!=...``),
by kind and node (``kind=approval`` + ``node_name=deploy``) and by region
(``region=eu-west-1``, or a regex on every other service); a route for legacy teams (a regex)
comes last. Receivers are per team (its channel, on-call, release bot) and of every type;
routes leave unset what their parent decides, and some teams set a reminder. No time windows:
a held notification would never reach the bench's responder.

Requests carry labels drawn from the tree (team, service, env, region, severity, sometimes
audit; 1 in 20 from a team the tree does not know), so they land on routes all over it and
reach one or more receivers (``continue``). ``decision_cost`` times
``hitl.core.routing.recipients.recipients`` on them, as the broker calls it for each request.
"""

import json
import random
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hitl.adapters.config.routing import load_routing
from hitl.core.decoding import REQUEST_ADAPTER
from hitl.core.routing.compiled import compile_tree
from hitl.core.routing.config import RoutingConfig
from hitl.core.routing.recipients import recipients
from hitl.core.routing.tree import RequestFields, compiled, evaluate
from hitl_bench.stats import percentile
from hitl_contract import InteractionRequest

# The system names of the end-to-end samples of a broker with the tree: requests with any
# labels (one receiver or more), and requests whose labels reach exactly one receiver. Each is
# compared with a broker without the file sent the same requests (``UNROUTED``...): on and
# off differ only in the routing file.
ROUTED = "routed"
ROUTED_ONE = "routed-1"
UNROUTED = "unrouted"
UNROUTED_ONE = "unrouted-1"
# on -> its off
ROUTING_PAIRS = {ROUTED: UNROUTED, ROUTED_ONE: UNROUTED_ONE}
SERVICES_PER_TEAM = 8
ENVS = ("production", "staging", "dev", "test")  # "test" has no route: lands on the service
REGIONS = ("eu-west-1", "eu-central-1", "us-east-1", "ap-south-1")
SEVERITIES = ("low", "low", "low", "medium", "medium", "high", "critical")
DEFAULT_RECEIVER = "default"


@dataclass(frozen=True, slots=True)
class Tree:
    """A generated routing config and what a request may carry to go through it."""

    config: dict[str, Any]  # the routing file's document
    teams: tuple[str, ...]
    services: dict[str, tuple[str, ...]]  # team -> service names requests use

    @property
    def routes(self) -> int:
        return count_routes(self.config["route"]) - 1  # the root is not counted

    def write(self, path: Path) -> Path:
        """The routing file (JSON, which is YAML) for ``HITL_ROUTING_FILE``."""
        path.write_text(json.dumps(self.config, indent=1))
        return path


def count_routes(route: dict[str, Any]) -> int:
    return 1 + sum(count_routes(child) for child in route.get("routes", []))


def depth(route: dict[str, Any]) -> int:
    return 1 + max((depth(child) for child in route.get("routes", [])), default=0)


def generate(routes: int = 1000, seed: int = 14) -> Tree:
    """A tree of exactly ``routes`` routes under the root (at least 4)."""
    if routes < 4:
        raise ValueError(f"a generated tree has at least 4 routes, not {routes}")
    rng = random.Random(seed)
    receivers: list[dict[str, Any]] = [
        {"name": DEFAULT_RECEIVER, "type": "terminal"},
        {"name": "security", "type": "slack", "channel": "#security", "token": {"env": "SLACK"}},
        {"name": "audit", "type": "email", "to": ["audit@example.com"]},
        {"name": "legacy", "type": "email", "to": ["legacy@example.com"]},
    ]
    top: list[dict[str, Any]] = [
        {"name": "security", "matchers": ['severity=~"high|critical"'],
         "receivers": ["security"], "continue": True},
        {"name": "audit", "matchers": ['audit=~"sox|pci"'], "receivers": ["audit"],
         "continue": True},
    ]  # fmt: skip
    legacy = {"name": "legacy", "matchers": ['team=~"legacy-.*"'], "receivers": ["legacy"]}
    budget = routes - len(top) - 1
    teams: list[str] = []
    services: dict[str, tuple[str, ...]] = {}
    while budget > 0:
        t = f"team-{len(teams):03d}"
        teams.append(t)
        receivers += _team_receivers(t, len(teams))
        team_route: dict[str, Any] = {
            "name": t, "matchers": [f"team={t}"], "receivers": [f"{t}-channel"], "routes": [],
        }  # fmt: skip
        if rng.random() < 0.3:
            team_route["reminder_every"] = "30m"
        budget -= 1
        used: list[str] = []
        for s in range(SERVICES_PER_TEAM):
            if budget <= 0:
                break
            service_route, names = _service(t, s)
            used += names
            budget -= 1
            for child in _service_children(t, s, rng):
                if budget <= 0:
                    break
                service_route["routes"].append(child)
                budget -= 1
            team_route["routes"].append(service_route)
        services[t] = tuple(used) or (f"{t}-svc0",)
        top.append(team_route)
    top.append(legacy)
    config = {
        "receivers": receivers,
        "route": {"receivers": [DEFAULT_RECEIVER], "routes": top},
    }
    return Tree(config, tuple(teams), services)


def _team_receivers(team: str, n: int) -> list[dict[str, Any]]:
    kinds: list[dict[str, Any]] = [
        {"type": "slack", "channel": f"#{team}", "token": {"env": "SLACK"}},
        {"type": "email", "to": [f"{team}@example.com"]},
        {"type": "webhook", "url": f"https://hooks.example.com/{team}",
         "secret": {"env": "HOOKS"}},
    ]  # fmt: skip
    return [
        {"name": f"{team}-channel", **kinds[n % 3]},
        {"name": f"{team}-oncall", "type": "webhook",
         "url": f"https://oncall.example.com/{team}", "secret": {"env": "ONCALL"}},
        {"name": f"{team}-release", "type": "terminal"},
    ]  # fmt: skip


def _service(team: str, s: int) -> tuple[dict[str, Any], list[str]]:
    """A service route, and the service names requests can use to land on it."""
    base = f"{team}-svc{s}"
    if s % 4 == 3:  # a family of services behind one regex
        names = [f"{base}-api", f"{base}-worker"]
        return {"name": base, "matchers": [f'service=~"{base}-.*"'], "routes": []}, names
    return {"name": base, "matchers": [f"service={base}"], "routes": []}, [base]


def _service_children(team: str, s: int, rng: random.Random) -> list[dict[str, Any]]:
    region = 'region=~"eu-.*"' if s % 2 else "region=eu-west-1"
    children: list[dict[str, Any]] = [
        {"matchers": ["env=production"], "receivers": [f"{team}-oncall"], "continue": True},
        {"matchers": ["kind=approval", "node_name=deploy"], "receivers": [f"{team}-release"]},
        {"matchers": ["env=staging"], "receivers": [f"{team}-channel"]},
        {"matchers": [region, "env!=dev"], "receivers": [f"{team}-channel"]},
        {"matchers": ["env=dev"], "receivers": [f"{team}-release"]},
    ]
    rng.shuffle(children)  # production first or not: some requests stop early, some don't
    return children


def request_labels(tree: Tree, rng: random.Random) -> tuple[dict[str, str], str | None]:
    """The labels and node name of a request that goes through ``tree``."""
    if rng.random() < 0.05:
        team = rng.choice(("legacy-billing", "unknown-team"))
        service = "svc"
    else:
        team = rng.choice(tree.teams)
        service = rng.choice(tree.services[team])
    labels = {
        "team": team,
        "service": service,
        "env": rng.choice(ENVS),
        "region": rng.choice(REGIONS),
        "severity": rng.choice(SEVERITIES),
    }
    if rng.random() < 0.1:
        labels["audit"] = rng.choice(("sox", "pci"))
    node = rng.choice(("deploy", "deploy_canary", "pay_invoice", "migrate_db", None))
    return labels, node


def request_pool(
    tree: Tree, count: int, *, single: bool = False, seed: int = 41
) -> list[dict[str, Any]]:
    """``count`` draws of ``request_labels`` as request fields (``labels``, ``node_name``);
    with ``single``, only draws that reach exactly one receiver."""
    config = RoutingConfig.model_validate(tree.config)
    rng = random.Random(seed)
    pool: list[dict[str, Any]] = []
    while len(pool) < count:
        labels, node = request_labels(tree, rng)
        if single:
            fields = RequestFields("approval", node, "bench", "", labels)
            if len(evaluate(config, fields)) != 1:
                continue
        pool.append({"labels": labels, "node_name": node})
    return pool


def requests(tree: Tree, count: int, seed: int = 41) -> list[InteractionRequest]:
    """``count`` approval requests with labels from ``request_labels`` (as the bench's
    producers send them)."""
    rng = random.Random(seed)
    made = []
    for n in range(count):
        labels, node = request_labels(tree, rng)
        made.append(
            REQUEST_ADAPTER.validate_python(
                {
                    "kind": "approval",
                    "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                    "thread_id": f"bench-{n}",
                    "prompt": "Pay 500 EUR to ACME Corp for invoice INV-2041?",
                    "reply_to": "bench",
                    "requester": {"id": "bench", "service": "bench"},
                    "labels": labels,
                    "node_name": node,
                }
            )
        )
    return made


@dataclass(frozen=True, slots=True)
class DecisionCost:
    """The routing decision, timed in process (microseconds unless named otherwise)."""

    routes: int
    receivers: int
    depth: int  # levels below the root
    regex_routes: int
    continue_routes: int
    requests: int  # distinct requests, each decided ``passes`` times
    passes: int
    load_ms: float  # reading the file: YAML, validation, references
    compile_ms: float  # the tree's index, built once per config
    p50_us: float
    p99_us: float
    mean_us: float
    off_mean_us: float  # recipients() without a config: the request's route alone
    remembered_mean_us: float  # a decision remembered for requests that read alike
    receivers_per_request: float
    most_receivers: int
    landed_routes: int  # distinct routes the requests landed on

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def decision_cost(tree: Tree, path: Path, count: int, passes: int = 3) -> DecisionCost:
    """Times ``recipients(config, request, "default", now)`` for ``count`` requests, each
    ``passes`` times (after one untimed pass), one call at a time, each deciding anew (the
    decisions remembered are forgotten before each call); then the same with each request's
    decision remembered (a request whose matched values were routed before), as a mean."""
    started = time.perf_counter()
    config = load_routing(tree.write(path))
    load_ms = 1000 * (time.perf_counter() - started)
    started = time.perf_counter()
    compile_tree(config)
    compile_ms = 1000 * (time.perf_counter() - started)
    asked = requests(tree, count)
    now = time.time()
    reached = [recipients(config, r, "default", now) for r in asked]  # compiles, warms up
    remembered = compiled(config).decisions.known
    timings: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(passes):
        for request in asked:
            remembered.clear()  # the walk through the tree, not a decision remembered
            t = clock()
            recipients(config, request, "default", now)
            timings.append((clock() - t) / 1000)
    for request in asked:  # each request's decision remembered
        recipients(config, request, "default", now)
    started = time.perf_counter_ns()
    for _ in range(passes):
        for request in asked:
            recipients(config, request, "default", now)
    hit = (time.perf_counter_ns() - started) / 1000 / (passes * len(asked))
    started = time.perf_counter_ns()
    for _ in range(passes):
        for request in asked:
            recipients(None, request, "default", now)
    off = (time.perf_counter_ns() - started) / 1000 / (passes * len(asked))
    sizes = [len(r.now) + len(r.held) for r in reached]
    return DecisionCost(
        routes=tree.routes,
        receivers=len(config.receivers),
        depth=depth(tree.config["route"]) - 1,
        regex_routes=_count(tree.config["route"], lambda r: any("~" in m for m in _m(r))),
        continue_routes=_count(tree.config["route"], lambda r: bool(r.get("continue"))),
        requests=len(asked),
        passes=passes,
        load_ms=load_ms,
        compile_ms=compile_ms,
        p50_us=percentile(timings, 50),
        p99_us=percentile(timings, 99),
        mean_us=statistics.fmean(timings),
        off_mean_us=off,
        remembered_mean_us=hit,
        receivers_per_request=statistics.fmean(sizes),
        most_receivers=max(sizes),
        landed_routes=len(_landed(config, asked)),
    )


def _m(route: dict[str, Any]) -> Sequence[str]:
    matchers: Sequence[str] = route.get("matchers", [])
    return matchers


def _count(route: dict[str, Any], test: Any) -> int:
    return int(test(route)) + sum(_count(child, test) for child in route.get("routes", []))


def _landed(config: RoutingConfig, asked: Sequence[InteractionRequest]) -> Counter[str]:
    """How many requests each route sent to at least one receiver."""
    landed: Counter[str] = Counter()
    for r in asked:
        fields = RequestFields(r.kind, r.node_name, r.requester.id, r.thread_id, dict(r.labels))
        landed.update({target.route.path for target in evaluate(config, fields)})
    return landed
