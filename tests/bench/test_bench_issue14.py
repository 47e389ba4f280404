"""Issue 14's parts of the bench, small: the generated route tree and its requests, the
routing decision timed in process, and webhook delivery through the channel and through the
httpx baseline to the receiver process. ``hitl bench --quick`` (tests/bench/test_bench_quick.py)
runs them all end to end, with the routed brokers and the slow-receiver isolation. No figure
is asserted: speed is measured by the bench."""

from collections import Counter
from pathlib import Path
from typing import Any

from hitl.core.routing.config import RoutingConfig
from hitl.core.routing.tree import RequestFields, Target, evaluate
from hitl_bench import route_tree, webhook_delivery


def test_the_generated_tree_has_the_routes_asked_and_requests_spread_over_it() -> None:
    tree = route_tree.generate(1000)
    assert tree.routes == 1000
    config = RoutingConfig.model_validate(tree.config)  # every receiver it names exists
    reached: Counter[int] = Counter()
    landed: set[str] = set()
    for fields in route_tree.request_pool(tree, 500):
        targets = _targets(config, fields)
        reached[len(targets)] += 1
        landed.update(t.route.path for t in targets)
    assert 0 not in reached and reached[1] and sum(n for k, n in reached.items() if k > 1)
    assert len(landed) > 100  # routes all over the tree, at every depth
    assert {path.count(".routes[") for path in landed} >= {1, 2, 3}
    for fields in route_tree.request_pool(tree, 100, single=True):
        assert len(_targets(config, fields)) == 1


def _targets(config: RoutingConfig, fields: dict[str, Any]) -> list[Target]:
    request = RequestFields("approval", fields["node_name"], "bench", "", fields["labels"])
    return evaluate(config, request)


def test_the_routing_decision_is_timed_on_the_written_file(tmp_path: Path) -> None:
    tree = route_tree.generate(60)
    cost = route_tree.decision_cost(tree, tmp_path / "routing.yaml", 40, passes=1)
    assert (cost.routes, cost.requests, cost.passes) == (60, 40, 1)
    assert cost.receivers_per_request >= 1 and cost.landed_routes > 1
    assert cost.regex_routes and cost.continue_routes and cost.depth == 3
    assert RoutingConfig.model_validate_json((tmp_path / "routing.yaml").read_text())


async def test_both_senders_deliver_every_notification_to_the_receiver_process() -> None:
    samples = await webhook_delivery.measure((1, 4), 20, 1, warmup=4)
    assert sorted((s.sender, s.concurrency) for s in samples) == [
        (sender, c) for sender in ("channel", "httpx") for c in (1, 4)
    ]
    for s in samples:
        assert s.received == s.count == 20, s
        assert 1 <= s.connections <= s.concurrency, s
