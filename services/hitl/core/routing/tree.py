"""Evaluating the route tree for one request: Alertmanager's rules.

Start at the root, which matches everything. At each route, try its children in order: a
child whose matchers all match is entered (and evaluated the same way); unless it says
``continue``, its later siblings are not tried. A route none of whose children matched is where
the request lands, with its receivers. Settings a route leaves unset come from its parent. The
result lists each receiver once (the first route that reached it wins), each with the settings
of the route that reached it.
"""

from dataclasses import dataclass
from typing import Any

from hitl.core.routing.compiled import Compiled, Node, Settled, compile_config
from hitl.core.routing.config import RoutingConfig


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
    leaves = _descend(compiled(config).root, request.as_fields(), request.labels)
    seen: set[str] = set()
    out: list[Target] = []
    for settled in leaves:
        for receiver in settled.receivers:
            if receiver not in seen:
                seen.add(receiver)
                out.append(Target(receiver, settled))
    return out


def compiled(config: RoutingConfig) -> Compiled:
    """The config's tree, compiled on first use and kept with the (immutable) config."""
    # Read from the private attributes' dict: ``config._tree`` goes through pydantic's
    # ``__getattr__``, a hundred times slower, once per request.
    private = config.__pydantic_private__ or {}
    tree: Compiled | None = private.get("_tree")
    if tree is None:
        tree = config._tree = compile_config(config)
    return tree


def _descend(node: Node, fields: dict[str, str], labels: dict[str, str]) -> list[Settled]:
    found: list[Settled] = []
    for n in node.candidates(fields, labels):
        child = node.children[n]
        if all(m.matches(fields, labels) for m in child.route.matchers):
            found += _descend(child, fields, labels)
            if not child.route.continue_:
                break
    return found or [node.settled]


def fallback_for(config: RoutingConfig, request: RequestFields, receiver: str) -> str | None:
    """The fallback receiver of the route that sent ``request`` to ``receiver`` (as a
    receiver, an escalation step or where it goes outside its time windows); the root's when
    no route the request lands on names it."""
    leaves = _descend(compiled(config).root, request.as_fields(), request.labels)
    for leaf in leaves:
        named = {*leaf.receivers, *(r for _, step in leaf.escalation for r in step)}
        if leaf.inactive is not None:
            named.update(leaf.inactive.receivers)
        if receiver in named:
            return leaf.fallback
    return config.route.fallback
