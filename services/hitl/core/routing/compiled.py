"""The route tree compiled once per config, so a request is routed in time that depends on
the routes it could match, not on how many there are.

Each route's settings are settled (inheritance applied) once. Each route's children are
indexed by their first ``=`` matcher: ``(name, value) -> children``. A request's candidates
are the children its own values point at, plus those with no ``=`` matcher (regexes, ``!=``);
only they are tried, in their order in the file, with every matcher, so the result is exactly
Alertmanager's first-match-unless-``continue`` walk over all of them: a child left out has an
``=`` matcher the request fails.

The compiled tree also knows every name its matchers read (``reads``): two requests that agree
on those values are routed alike, so a decision that does not depend on the time (no route
with time windows on the way) can be remembered by those values (``Decisions``).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

from hitl.core.routing.config import Inactive, Route, RoutingConfig
from hitl.core.routing.matchers import FIELDS, Matcher

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Settled:
    """A route's settings with inheritance applied."""

    path: str
    name: str | None
    receivers: tuple[str, ...]
    reminder_every: float | None
    max_reminders: int | None
    escalation: tuple[tuple[float, tuple[str, ...]], ...]
    active_time: tuple[str, ...]
    inactive: Inactive | None
    fallback: str | None


@dataclass(frozen=True, slots=True)
class Node:
    route: Route
    settled: Settled
    children: tuple["Node", ...]
    index: dict[tuple[str, str], tuple[int, ...]]  # (name, value) -> positions in children
    unkeyed: tuple[int, ...]  # children without an ``=`` matcher: always tried

    def candidates(self, fields: dict[str, str], labels: dict[str, str]) -> list[int]:
        if not self.index:
            return list(self.unkeyed)
        found = set(self.unkeyed)
        for name in {name for name, _ in self.index}:
            have = _value(name, fields, labels)
            found.update(self.index.get((name, have), ()))
        return sorted(found)


@dataclass(frozen=True, slots=True)
class Decisions:
    """What requests were routed to, by the values the tree's matchers read: the request
    fields at ``fields`` (positions in ``FIELDS``) and the labels ``labels``. Bounded: the
    oldest decision is forgotten first."""

    fields: tuple[int, ...]
    labels: tuple[str, ...]
    most: int = 4096
    known: dict[tuple[object, ...], object] = field(default_factory=dict)

    def key(self, values: tuple[str, ...], labels: Mapping[str, str]) -> tuple[object, ...]:
        """``values``: the request's fields in ``FIELDS`` order. A label the request does
        not have reads as None here (as "" in matchers): both keys route alike."""
        return (*[values[i] for i in self.fields], *map(labels.get, self.labels))

    def remember(self, key: tuple[object, ...], decision: object) -> None:
        if len(self.known) >= self.most:
            del self.known[next(iter(self.known))]
        self.known[key] = decision


@dataclass(frozen=True, slots=True)
class Compiled:
    root: Node
    decisions: Decisions


def compile_config(config: RoutingConfig) -> Compiled:
    """The tree, and an empty memory of decisions keyed by what its matchers read."""
    names: set[str] = set()

    def read(route: Route) -> None:
        names.update(m.name for m in route.matchers)
        for child in route.routes:
            read(child)

    read(config.route)
    labels = sorted(n.removeprefix("labels.") for n in names if n.startswith("labels."))
    fields = tuple(n for n, name in enumerate(FIELDS) if name in names)
    return Compiled(compile_tree(config), Decisions(fields, tuple(labels)))


def compile_tree(config: RoutingConfig) -> Node:
    def build(route: Route, settled: Settled) -> Node:
        children = tuple(
            build(child, settle(child, settled, f"{settled.path}.routes[{n}]"))
            for n, child in enumerate(route.routes)
        )
        index: dict[tuple[str, str], list[int]] = {}
        unkeyed: list[int] = []
        for n, child in enumerate(route.routes):
            key = _key(child.matchers)
            if key is None:
                unkeyed.append(n)
            else:
                index.setdefault(key, []).append(n)
        return Node(
            route, settled, children, {k: tuple(v) for k, v in index.items()}, tuple(unkeyed)
        )

    return build(config.route, settle(config.route, None, "route"))


def _key(matchers: list[Matcher]) -> tuple[str, str] | None:
    for m in matchers:
        if m.op == "=":
            return (m.name, m.value)
    return None


def _value(name: str, fields: dict[str, str], labels: dict[str, str]) -> str:
    if name.startswith("labels."):
        return labels.get(name.removeprefix("labels."), "")
    return fields.get(name, "")


def settle(route: Route, parent: Settled | None, path: str) -> Settled:
    if parent is None:
        parent = Settled(path, None, (), None, None, (), (), None, None)
    return replace(
        parent,
        path=path,
        name=route.name,
        receivers=tuple(route.receivers) if route.receivers is not None else parent.receivers,
        reminder_every=_pick(route.reminder_every, parent.reminder_every),
        max_reminders=_pick(route.max_reminders, parent.max_reminders),
        escalation=(
            tuple((s.after, tuple(s.receivers)) for s in route.escalation)
            if route.escalation is not None
            else parent.escalation
        ),
        active_time=(
            tuple(route.active_time) if route.active_time is not None else parent.active_time
        ),
        inactive=_pick(route.inactive, parent.inactive),
        fallback=_pick(route.fallback, parent.fallback),
    )


def _pick(own: _T | None, inherited: _T | None) -> _T | None:
    return own if own is not None else inherited
