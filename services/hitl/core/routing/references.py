"""The config's cross-references: every receiver and time window a route names exists, names
are unique, the root route matches everything and names a receiver. Each problem names its
place in the document (``route.routes[1].receivers[0]``), which the loader turns into a line."""

from collections.abc import Iterator
from typing import TYPE_CHECKING

from hitl_contract.common import refuse

if TYPE_CHECKING:
    from hitl.core.routing.config import Route, RoutingConfig


def check_references(config: "RoutingConfig") -> None:
    receivers = _unique([r.name for r in config.receivers], "receivers", "receiver")
    windows = _unique([w.name for w in config.time_windows], "time_windows", "time window")
    root = config.route
    if root.matchers:
        refuse("route.matchers", "the root route matches every request: give it no matchers")
    if not root.receivers:
        refuse("route.receivers", "the root route needs receivers: the default for every request")
    for where, route in _walk(root, "route"):
        for at, name in _named_receivers(route, where):
            _known(at, name, receivers, "receiver")
        for n, name in enumerate(route.active_time or []):
            _known(f"{where}.active_time[{n}]", name, windows, "time window")
        if route.inactive is not None and not route.active_time:
            refuse(f"{where}.inactive", "inactive only applies to a route with active_time")
    for n, test in enumerate(config.tests):
        for m, name in enumerate(test.expect):
            _known(f"tests[{n}].expect[{m}]", name, receivers, "receiver")


def _known(at: str, name: str, names: set[str], what: str) -> None:
    if name not in names:
        refuse(at, f"{name!r} is not a {what}", got=name, allowed=sorted(names))


def _unique(names: list[str], where: str, what: str) -> set[str]:
    seen: set[str] = set()
    for n, name in enumerate(names):
        if name in seen:
            refuse(f"{where}[{n}].name", f"{what} {name!r} is defined twice", got=name)
        seen.add(name)
    return seen


def _walk(route: "Route", where: str) -> Iterator[tuple[str, "Route"]]:
    yield where, route
    for n, child in enumerate(route.routes):
        yield from _walk(child, f"{where}.routes[{n}]")


def _named_receivers(route: "Route", where: str) -> Iterator[tuple[str, str]]:
    """(place in the document, receiver name) of every receiver the route names."""
    for n, name in enumerate(route.receivers or []):
        yield f"{where}.receivers[{n}]", name
    if route.fallback:
        yield f"{where}.fallback", route.fallback
    for n, step in enumerate(route.escalation or []):
        for m, name in enumerate(step.receivers):
            yield f"{where}.escalation[{n}].receivers[{m}]", name
    for n, name in enumerate(route.inactive.receivers if route.inactive else []):
        yield f"{where}.inactive.receivers[{n}]", name
