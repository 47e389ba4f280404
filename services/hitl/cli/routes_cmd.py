"""``hitl routes check FILE`` and ``hitl routes test FILE key=value ...``: the routing config
checked as the broker will load it, and tried on a request, like Alertmanager's amtool.

Exit codes: 0 valid (and every test or expectation met), 1 the file is invalid, 3 a route test
or ``--expect`` failed, 2 bad usage.
"""

import sys
from collections.abc import Sequence

import click

from hitl.adapters.config.routing import RoutingConfigError, load_routing
from hitl.cli.common import examples, finish
from hitl.cli.errors import Usage
from hitl.cli.render import iso
from hitl.core.routing.matchers import FIELDS
from hitl.core.routing.plan import plan
from hitl.core.routing.testing import run_tests
from hitl.core.routing.tree import RequestFields
from hitl.core.routing.windows import instant

INVALID, FAILED = 1, 3
EXIT_NOTE = (
    "Exit codes: 0 valid, 1 the file is invalid, 3 a route test or --expect failed, 2 bad usage."
)


def register(app: click.Group) -> None:
    app.add_command(routes)


@click.group(
    help="Check a routing config and try requests against it (docs/routing.md).",
    epilog=examples("hitl routes check examples/routing.yaml", notes=EXIT_NOTE),
)
def routes() -> None:
    pass


@routes.command(
    help="Validate FILE as the broker loads it and run the route tests written in it.",
    epilog=examples("hitl routes check examples/routing.yaml", notes=EXIT_NOTE),
)
@click.argument("file")
def check(file: str) -> None:
    try:
        config = load_routing(file)
    except RoutingConfigError as exc:
        print(exc, file=sys.stderr)
        finish(INVALID)
        return
    count = _count_routes(config.route)
    print(
        f"{file}: valid: {len(config.receivers)} receivers, {count} routes, "
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
    finish(FAILED if failed else 0)


@routes.command(
    "test",
    help="Print the receivers a request with these fields reaches. KEY=VALUE: kind, node_name, "
    "requester, thread, or a label (labels.team=x, or team=x).",
    epilog=examples(
        "hitl routes test examples/routing.yaml kind=approval labels.team=finance "
        "--expect finance-email",
        notes=EXIT_NOTE,
    ),
)
@click.argument("file")
@click.argument("fields", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--expect", help="Comma-separated receivers; exit 3 when they differ.")
@click.option("--at", help="An ISO 8601 instant with offset, for time windows.")
def try_request(file: str, fields: tuple[str, ...], expect: str | None, at: str | None) -> None:
    try:
        values = _fields(fields)
        now = instant(at) if at else None
    except ValueError as exc:
        raise Usage(f"routes test: {exc}") from exc
    try:
        config = load_routing(file)
    except RoutingConfigError as exc:
        print(exc, file=sys.stderr)
        finish(INVALID)
        return
    planned = plan(config, RequestFields.of(values), now)
    for p in planned:
        route = p.route.name or p.route.path
        when = "" if now is None or not p.held(now) else f"  held until {iso(p.at)}"
        print(f"{p.receiver}  (route {route}){when}")
    if expect is None:
        return
    expected = sorted(x.strip() for x in expect.split(",") if x.strip())
    got = sorted(p.receiver for p in planned if now is None or not p.held(now))
    if expected != got:
        held = [p.receiver for p in planned if now is not None and p.held(now)]
        also = f" (held: {', '.join(held)})" if held else ""
        print(f"expected {', '.join(expected)}, got {', '.join(got) or '(none)'}{also}",
              file=sys.stderr)  # fmt: skip
        finish(FAILED)


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
