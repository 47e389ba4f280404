"""Evaluating the route tree for one request: Alertmanager's rules.

Start at the root, which matches everything. At each route, try its children in order: a
child whose matchers all match is entered (and evaluated the same way); unless it says
``continue``, its later siblings are not tried. A route none of whose children matched is where
the request lands, with its receivers. Settings a route leaves unset come from its parent. The
result lists each receiver once (the first route that reached it wins), each with the settings
of the route that reached it.
"""

from dataclasses import dataclass, replace
from typing import Any, TypeVar

from hitl.core.routing.config import Inactive, Route, RoutingConfig

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
class Target:
    """One receiver a request reaches, and the route that sent it there."""

    receiver: str
    route: Settled


@dataclass(frozen=True, slots=True)
class RequestFields:
    """What matchers read of a request."""

    kind: str
    node_name: str | None
    requester: str
    thread: str
    labels: dict[str, str]

    @classmethod
    def of(cls, values: dict[str, Any]) -> "RequestFields":
        """From a mapping as written in route tests or ``hitl routes test`` (labels.x=...)."""
        labels = {str(k): str(v) for k, v in (values.get("labels") or {}).items()}
        labels |= {k.removeprefix("labels."): str(v) for k, v in values.items()
                   if k.startswith("labels.")}  # fmt: skip
        requester = values.get("requester", "")
        if isinstance(requester, dict):
            requester = requester.get("id", "")
        return cls(
            kind=str(values.get("kind", "")),
            node_name=None if values.get("node_name") is None else str(values["node_name"]),
            requester=str(requester),
            thread=str(values.get("thread", values.get("thread_id", ""))),
            labels=labels,
        )

    def as_fields(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "node_name": self.node_name or "",
            "requester": self.requester,
            "thread": self.thread,
        }


def evaluate(config: RoutingConfig, request: RequestFields) -> list[Target]:
    root = _settle(config.route, None, "route")
    leaves = _descend(config.route, root, request.as_fields(), request.labels)
    seen: set[str] = set()
    out: list[Target] = []
    for settled in leaves:
        for receiver in settled.receivers:
            if receiver not in seen:
                seen.add(receiver)
                out.append(Target(receiver, settled))
    return out


def _descend(
    route: Route, settled: Settled, fields: dict[str, str], labels: dict[str, str]
) -> list[Settled]:
    found: list[Settled] = []
    for n, child in enumerate(route.routes):
        if all(m.matches(fields, labels) for m in child.matchers):
            child_settled = _settle(child, settled, f"{settled.path}.routes[{n}]")
            found += _descend(child, child_settled, fields, labels)
            if not child.continue_:
                break
    return found or [settled]


def _settle(route: Route, parent: Settled | None, path: str) -> Settled:
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


def fallback_for(config: RoutingConfig, request: RequestFields, receiver: str) -> str | None:
    """The fallback receiver of the route that sent ``request`` to ``receiver`` (as a
    receiver, an escalation step or where it goes outside its time windows); the root's when
    no route the request lands on names it."""
    leaves = _descend(config.route, _settle(config.route, None, "route"),
                      request.as_fields(), request.labels)  # fmt: skip
    for leaf in leaves:
        named = {*leaf.receivers, *(r for _, step in leaf.escalation for r in step)}
        if leaf.inactive is not None:
            named.update(leaf.inactive.receivers)
        if receiver in named:
            return leaf.fallback
    return config.route.fallback
