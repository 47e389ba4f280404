"""``hitl routes check FILE`` and ``hitl routes test FILE key=value ...``: the routing config
checked as the broker will load it, and tried on a request, like Alertmanager's amtool.

Exit codes: 0 valid (and every test or expectation met), 1 the file is invalid, 3 a route test
or ``--expect`` failed, 2 bad usage.
"""

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from hitl.adapters.config.routing import RoutingConfigError, load_routing
from hitl.core.routing.matchers import FIELDS
from hitl.core.routing.plan import plan
from hitl.core.routing.testing import run_tests
from hitl.core.routing.tree import RequestFields
from hitl.core.routing.windows import instant
from hitl.settings import Settings

INVALID, FAILED = 1, 3


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("routes", help="check a routing config and try requests against it")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    check = verbs.add_parser(
        "check",
        help="validate FILE and run the route tests written in it",
        epilog="example: hitl routes check examples/routing.yaml",
    )
    check.add_argument("file", help="routing config (YAML)")
    check.set_defaults(handler=run_check, needs_settings=False)
    test = verbs.add_parser(
        "test",
        help="print the receivers a request with these fields reaches",
        epilog="example: hitl routes test examples/routing.yaml kind=approval "
        "labels.team=finance --expect finance-email",
    )
    test.add_argument("file", help="routing config (YAML)")
    test.add_argument(
        "fields", nargs="*", metavar="key=value",
        help="kind, node_name, requester, thread, or a label (labels.team=x, or team=x)",
    )  # fmt: skip
    test.add_argument("--expect", help="comma-separated receivers; exit 3 when they differ")
    test.add_argument("--at", help="ISO 8601 instant with offset, for time windows")
    test.set_defaults(handler=run_test, needs_settings=False)


async def run_check(args: argparse.Namespace, _: Settings | None) -> int:
    try:
        config = load_routing(args.file)
    except RoutingConfigError as exc:
        print(exc, file=sys.stderr)
        return INVALID
    routes = _count_routes(config.route)
    print(
        f"{args.file}: valid: {len(config.receivers)} receivers, {routes} routes, "
        f"{len(config.time_windows)} time windows"
    )
    results = run_tests(config)
    failed = [r for r in results if not r.passed]
    for r in failed:
        held = f" (held: {', '.join(r.held)})" if r.held else ""
        print(
            f"FAIL {r.name}: expected {', '.join(sorted(r.expected)) or '(none)'}, "
            f"got {', '.join(sorted(r.got)) or '(none)'}{held}",
            file=sys.stderr,
        )
    print(f"{len(results)} route tests: {len(results) - len(failed)} passed, {len(failed)} failed")
    return FAILED if failed else 0


async def run_test(args: argparse.Namespace, _: Settings | None) -> int:
    try:
        values = _fields(args.fields)
        now = instant(args.at) if args.at else None
    except ValueError as exc:
        print(f"hitl routes test: {exc}", file=sys.stderr)
        return 2
    try:
        config = load_routing(args.file)
    except RoutingConfigError as exc:
        print(exc, file=sys.stderr)
        return INVALID
    planned = plan(config, RequestFields.of(values), now)
    for p in planned:
        route = p.route.name or p.route.path
        when = "" if now is None or not p.held(now) else f"  held until {_iso(p.at)}"
        print(f"{p.receiver}  (route {route}){when}")
    if args.expect is None:
        return 0
    expected = sorted(x.strip() for x in args.expect.split(",") if x.strip())
    got = sorted(p.receiver for p in planned if now is None or not p.held(now))
    if expected != got:
        held = [p.receiver for p in planned if now is not None and p.held(now)]
        also = f" (held: {', '.join(held)})" if held else ""
        print(f"expected {', '.join(expected)}, got {', '.join(got) or '(none)'}{also}",
              file=sys.stderr)  # fmt: skip
        return FAILED
    return 0


def _fields(pairs: Sequence[str]) -> dict[str, str]:
    """key=value pairs; a key that is not a request field is a label, as in matchers."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{pair!r} is not key=value (e.g. kind=approval, labels.team=x)")
        fields = (*FIELDS, "thread_id")
        values[key if key in fields or key.startswith("labels.") else f"labels.{key}"] = value
    return values


def _count_routes(route: object) -> int:
    children = getattr(route, "routes", [])
    return 1 + sum(_count_routes(c) for c in children)


def _iso(epoch: float) -> str:

    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
