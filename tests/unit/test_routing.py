"""Routing decided in the pure core: matchers, the route tree, time windows, when each
receiver is notified, and the loader's errors (file, line, path, what is allowed)."""

import random
from datetime import datetime
from zoneinfo import ZoneInfo

import orjson
import pytest

from hitl.adapters.config.routing import RoutingConfigError, parse_routing
from hitl.core.decoding import decode_request
from hitl.core.routing.config import RoutingConfig
from hitl.core.routing.matchers import MatcherError, parse_matcher
from hitl.core.routing.plan import plan
from hitl.core.routing.recipients import recipients
from hitl.core.routing.testing import run_tests
from hitl.core.routing.tree import RequestFields, compiled, evaluate, fallback_for
from hitl_contract import InteractionRequest
from tests.helpers import raw_request

BERLIN = ZoneInfo("Europe/Berlin")


def config(**overrides: object) -> RoutingConfig:
    doc: dict[str, object] = {
        "receivers": [{"name": n, "type": "terminal"} for n in ("root", "a", "b", "c", "d")],
        "route": {"receivers": ["root"]},
    }
    doc.update(overrides)
    return RoutingConfig.model_validate(doc)


def reached(cfg: RoutingConfig, **fields: object) -> list[str]:
    return [t.receiver for t in evaluate(cfg, RequestFields.of(fields))]


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).timestamp()


# --- matchers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("matcher", "fields", "labels", "expected"),
    [
        ("kind=approval", {"kind": "approval"}, {}, True),
        ("kind!=approval", {"kind": "approval"}, {}, False),
        ('team=~"fin.*"', {}, {"team": "finance"}, True),
        ("team=~fin", {}, {"team": "finance"}, False),  # the whole value must match
        ("team!~fin.*", {}, {"team": "finance"}, False),
        ("labels.kind=x", {"kind": "approval"}, {"kind": "x"}, True),
        ('team=""', {}, {}, True),  # a missing label reads as empty
        ('team!=""', {}, {}, False),
        ('note="a = b"', {}, {"note": "a = b"}, True),
        ("node_name=~deploy(_.*)?", {"node_name": "deploy_api"}, {}, True),
    ],
)
def test_matchers(matcher: str, fields: dict[str, str], labels: dict[str, str], expected: bool):
    assert parse_matcher(matcher).matches(fields, labels) is expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("kind", "is not a matcher"),
        ("team=~(", "does not compile"),
        ('team="open', "not closed"),
        ('team=a"b', "must be quoted as a whole"),
        ("labels.=x", "needs a label name"),
    ],
)
def test_bad_matchers_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(MatcherError, match=says):
        parse_matcher(text)


# --- the tree ---------------------------------------------------------------------------


def test_the_first_matching_route_wins_unless_it_continues() -> None:
    cfg = config(
        route={
            "receivers": ["root"],
            "routes": [
                {"matchers": ["kind=approval"], "receivers": ["a"]},
                {"matchers": ["team=x"], "receivers": ["b"]},
                {"matchers": ["team=y"], "receivers": ["c"], "continue": True},
                {"matchers": ["kind=approval"], "receivers": ["d"]},
            ],
        }
    )
    assert reached(cfg, kind="approval", labels={"team": "x"}) == ["a"]
    assert reached(cfg, kind="choice", labels={"team": "x"}) == ["b"]
    assert reached(cfg, kind="approval", labels={"team": "y"}) == ["a"]
    assert reached(cfg, kind="choice", labels={"team": "y"}) == ["c"]
    assert reached(cfg, kind="form") == ["root"]


def test_continue_reaches_every_matching_sibling_and_nested_routes_inherit() -> None:
    cfg = config(
        route={
            "receivers": ["root"],
            "reminder_every": "30m",
            "fallback": "d",
            "routes": [
                {"matchers": ["team=x"], "receivers": ["a"], "continue": True,
                 "routes": [{"matchers": ["env=prod"], "reminder_every": "5m"}]},
                {"matchers": ["kind=approval"], "receivers": ["b", "a"]},
            ],
        }
    )  # fmt: skip
    targets = evaluate(
        cfg, RequestFields.of({"kind": "approval", "labels": {"team": "x", "env": "prod"}})
    )
    assert [t.receiver for t in targets] == ["a", "b"]  # a once, from the first route
    nested = targets[0].route
    assert (nested.receivers, nested.reminder_every, nested.fallback) == (("a",), 300.0, "d")
    assert nested.path == "route.routes[0].routes[0]"
    assert targets[1].route.reminder_every == 1800.0


# --- time windows and plans ------------------------------------------------------------


def office(**route: object) -> RoutingConfig:
    return config(
        time_windows=[{"name": "office", "time_zone": "Europe/Berlin",
                       "ranges": [{"weekdays": ["monday:friday"],
                                   "times": [{"start": "09:00", "end": "17:00"}]}]}],
        route={"receivers": ["root"],
               "routes": [{"matchers": ["kind=approval"], "receivers": ["a"],
                           "active_time": ["office"], **route}]},
    )  # fmt: skip


def test_a_route_outside_its_window_holds_until_the_window_opens() -> None:
    cfg = office()
    wednesday_noon = at("2026-12-02T12:00:00")
    [now] = plan(cfg, RequestFields.of({"kind": "approval"}), wednesday_noon)
    assert now.at == wednesday_noon
    saturday = at("2026-12-05T10:00:00")
    [held] = plan(cfg, RequestFields.of({"kind": "approval"}), saturday)
    assert held.held(saturday) and held.at == at("2026-12-07T09:00:00")
    friday_evening = at("2026-12-04T17:00:00")  # end is exclusive
    [later] = plan(cfg, RequestFields.of({"kind": "approval"}), friday_evening)
    assert later.at == at("2026-12-07T09:00:00")


def test_windows_follow_daylight_saving_time() -> None:
    cfg = office()
    summer = datetime(2026, 7, 1, 8, 30, tzinfo=ZoneInfo("UTC")).timestamp()  # 10:30 Berlin
    [p] = plan(cfg, RequestFields.of({"kind": "approval"}), summer)
    assert p.at == summer
    winter = datetime(2026, 12, 2, 8, 30, tzinfo=ZoneInfo("UTC")).timestamp()  # 09:30 Berlin
    [p] = plan(cfg, RequestFields.of({"kind": "approval"}), winter)
    assert p.at == winter


def test_outside_its_window_a_route_can_send_elsewhere() -> None:
    cfg = office(inactive={"action": "send", "receivers": ["c", "d"]})
    saturday = at("2026-12-05T10:00:00")
    planned = plan(cfg, RequestFields.of({"kind": "approval"}), saturday)
    assert [(p.receiver, p.at) for p in planned] == [("c", saturday), ("d", saturday)]


def test_weekday_ranges_may_wrap_around_the_week() -> None:
    cfg = config(
        time_windows=[{"name": "weekend", "ranges": [{"weekdays": ["friday:monday"]}]}],
        route={"receivers": ["root"], "active_time": ["weekend"]},
    )
    [p] = plan(
        cfg, RequestFields.of({}), datetime(2026, 12, 7, 12, tzinfo=ZoneInfo("UTC")).timestamp()
    )
    assert not p.held(datetime(2026, 12, 7, 12, tzinfo=ZoneInfo("UTC")).timestamp())  # monday
    tuesday = datetime(2026, 12, 8, 12, tzinfo=ZoneInfo("UTC")).timestamp()
    [p] = plan(cfg, RequestFields.of({}), tuesday)
    assert p.at == datetime(2026, 12, 11, tzinfo=ZoneInfo("UTC")).timestamp()  # friday 00:00


def test_route_tests_compare_receivers_in_any_order() -> None:
    cfg = config(
        route={
            "receivers": ["root"],
            "routes": [{"matchers": ["team=x"], "receivers": ["b", "a"]}],
        },
        tests=[
            {"name": "ok", "request": {"labels": {"team": "x"}}, "expect": ["a", "b"]},
            {"name": "wrong", "request": {"labels": {"team": "y"}}, "expect": ["a"]},
        ],
    )
    results = run_tests(cfg)
    assert [(r.name, r.passed) for r in results] == [("ok", True), ("wrong", False)]
    assert results[1].got == ("root",)


# --- loading: every error says where ----------------------------------------------------

GOOD = """\
receivers:
  - name: a
    type: webhook
    url: https://example.com/hook
route:
  receivers: [a]
"""


def errors(text: str) -> list[str]:
    with pytest.raises(RoutingConfigError) as caught:
        parse_routing(text, "r.yaml")
    return caught.value.problems


def test_a_good_file_loads() -> None:
    assert parse_routing(GOOD, "r.yaml").receiver("a").type == "webhook"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD + "  routes:\n    - receivers: [nobody]\n",
            "r.yaml:8:19: route.routes[0].receivers[0]: 'nobody' is not a receiver (allowed: a)",
        ),
        (
            GOOD.replace("route:\n  receivers: [a]", "route:\n  receivers: [a]\n  fallback: zz"),
            "r.yaml:7:13: route.fallback: 'zz' is not a receiver (allowed: a)",
        ),
        (
            GOOD + "  reminder_every: soon\n",
            "r.yaml:7:19: route.reminder_every: 'soon' is not a duration; write 90s, 30m, 1h30m, 2d or seconds",
        ),
        (GOOD + "  colour: red\n", "r.yaml:7:11: route.colour: Extra inputs are not permitted"),
        (
            GOOD + "  matchers: [kind=approval]\n",
            "r.yaml:7:13: route.matchers: the root route matches every request: give it no matchers",
        ),
        (
            GOOD.replace("type: webhook", "type: pigeon"),
            "r.yaml:3:11: receivers[0].type: Input tag 'pigeon' found using 'type' does not match",
        ),
        (
            GOOD + "  active_time: [office]\n",
            "r.yaml:7:17: route.active_time[0]: 'office' is not a time window",
        ),
        ("receivers: [\n", "r.yaml:2:1: not valid YAML"),
        ("- just a list\n", "the document must be a mapping"),
    ],
)
def test_errors_name_file_line_and_path(text: str, expected: str) -> None:
    problems = errors(text)
    assert any(p.startswith(expected) or expected in p for p in problems), problems


def test_a_receiver_defined_twice_is_an_error() -> None:
    twice = GOOD.replace("route:", "  - name: a\n    type: terminal\nroute:")
    [problem] = errors(twice)
    assert problem.startswith("r.yaml:5:") and "receiver 'a' is defined twice" in problem


def test_the_fallback_is_the_one_of_the_route_that_reached_the_receiver() -> None:
    cfg = config(
        route={
            "receivers": ["root"],
            "fallback": "d",
            "routes": [
                {"matchers": ["team=x"], "receivers": ["a"], "fallback": "c",
                 "escalation": [{"after": "1h", "receivers": ["b"]}]},
            ],
        }
    )  # fmt: skip
    x = RequestFields.of({"labels": {"team": "x"}})
    assert fallback_for(cfg, x, "a") == "c"
    assert fallback_for(cfg, x, "b") == "c"  # reached by the route's escalation
    assert fallback_for(cfg, x, "root") == "d"  # not named on its route: the root's
    assert fallback_for(cfg, RequestFields.of({}), "root") == "d"


def _naive(cfg: RoutingConfig, request: RequestFields) -> list[str]:
    """Alertmanager's walk over every child, the reference the compiled tree must agree with."""
    fields, labels = request.as_fields(), request.labels

    def walk(route, receivers):  # type: ignore[no-untyped-def]
        receivers = route.receivers if route.receivers is not None else receivers
        found = []
        for child in route.routes:
            if all(m.matches(fields, labels) for m in child.matchers):
                found += walk(child, receivers)
                if not child.continue_:
                    break
        return found or [receivers]

    out: list[str] = []
    for names in walk(cfg.route, None):
        out += [n for n in names if n not in out]
    return out


def test_the_compiled_tree_routes_as_a_walk_over_every_route() -> None:
    rng = random.Random(7)
    names = ["root", "a", "b", "c", "d"]
    ops = ["=", "!=", "=~", "!~"]

    def matcher() -> str:
        op = rng.choice(ops)
        name = rng.choice(["team", "env", "kind"])
        value = rng.choice(["x", "y", "", "x|y"] if "~" in op else ["x", "y", ""])
        return f'{name}{op}"{value}"'

    def routes(depth: int) -> list[dict[str, object]]:
        return [
            {
                "matchers": [matcher() for _ in range(rng.randrange(3))],
                "receivers": [rng.choice(names)] if rng.random() < 0.7 else None,
                "continue": rng.random() < 0.3,
                "routes": routes(depth + 1) if depth < 2 and rng.random() < 0.4 else [],
            }
            for _ in range(rng.randrange(6))
        ]

    for _ in range(200):
        cfg = config(route={"receivers": ["root"], "routes": routes(0)})
        for team in ("x", "y", None):
            for env in ("x", "y", None):
                labels = {k: v for k, v in (("team", team), ("env", env)) if v is not None}
                request = RequestFields.of({"kind": rng.choice(["x", "y"]), "labels": labels})
                assert reached(cfg, kind=request.kind, labels=labels) == _naive(cfg, request)


def _asked(**fields: object) -> InteractionRequest:
    return decode_request(orjson.dumps(raw_request(**fields)), 1 << 20)


def test_requests_that_read_alike_share_one_remembered_decision() -> None:
    cfg = config(
        route={"receivers": ["root"], "reminder_every": "1h",
               "routes": [{"matchers": ["team=x"], "receivers": ["a"]},
                          {"matchers": ["node_name=~deploy.*"], "receivers": ["b"],
                           "escalation": [{"after": "10m", "receivers": ["c"]}]}]},
    )  # fmt: skip
    first = recipients(cfg, _asked(labels={"team": "x", "other": "1"}), "default", 1.0)
    assert first.now == ("a",) and dict(first.reminders) == {"a": (3600.0, None)}
    # labels no matcher reads, the thread and the time do not change the decision
    same = recipients(cfg, _asked(labels={"team": "x"}, thread_id="t2"), "default", 9e9)
    assert same is first
    deploy = recipients(cfg, _asked(node_name="deploy_eu"), "default", 1.0)
    assert deploy.now == ("b",) and deploy.escalations == ((600.0, ("c",)),)
    assert recipients(cfg, _asked(labels={"team": "y"}), "default", 1.0).now == ("root",)
    assert len(compiled(cfg).decisions.known) == 3


def test_decisions_with_time_windows_are_made_at_each_request() -> None:
    cfg = office()
    request = _asked(kind="approval")
    assert recipients(cfg, request, "default", at("2026-12-02T12:00:00")).now == ("a",)
    saturday = recipients(cfg, request, "default", at("2026-12-05T10:00:00"))
    assert saturday.now == () and saturday.held == (("a", at("2026-12-07T09:00:00")),)
    assert compiled(cfg).decisions.known == {}


def test_remembered_decisions_are_bounded_and_agree_with_deciding_anew() -> None:
    cfg = config(route={"receivers": ["root"],
                        "routes": [{"matchers": ["team=~x.*"], "receivers": ["a"]}]})  # fmt: skip
    decisions = compiled(cfg).decisions
    for n in range(decisions.most + 10):
        team = f"x{n}" if n % 2 else f"y{n}"
        decided = recipients(cfg, _asked(labels={"team": team}), "default", 1.0)
        assert decided.now == (("a",) if n % 2 else ("root",))
    assert len(decisions.known) == decisions.most
    fresh = config(route={"receivers": ["root"],
                          "routes": [{"matchers": ["team=~x.*"], "receivers": ["a"]}]})  # fmt: skip
    assert compiled(fresh).decisions.known == {}  # a reloaded config starts afresh
