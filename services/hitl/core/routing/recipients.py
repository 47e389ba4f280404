"""Who a request's notifications go to, as the state machine needs it: the receivers to notify
now, those held until a time window opens, the reminder interval of each, and the escalation
steps. Built from the routing config (or, without one, the request's route alone), so the
machine itself stays unaware of trees and windows. A decision that does not depend on the
time is remembered with the compiled tree, by the values its matchers read
(``compiled.Decisions``): requests that read alike are routed alike.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from hitl.core.routing.config import RoutingConfig
from hitl.core.routing.plan import plan
from hitl.core.routing.tree import RequestFields, compiled
from hitl_contract import InteractionRequest

_NONE: Mapping[str, tuple[float, int | None]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Recipients:
    now: tuple[str, ...]
    held: tuple[tuple[str, float], ...] = ()  # (receiver, when its window opens)
    reminders: Mapping[str, tuple[float, int | None]] = field(default_factory=lambda: _NONE)
    escalations: tuple[tuple[float, tuple[str, ...]], ...] = ()  # (after, receivers to add)
    # Chosen by a routing config: each notification names its receiver in its message id,
    # and the lifecycle event lists them all.
    routed: bool = False
    # A route on the way has time windows: the decision depends on when it is made.
    timed: bool = False

    def held_until(self, receiver: str) -> float | None:
        return next((at for name, at in self.held if name == receiver), None)

    def escalation_after(self, after: float) -> tuple[str, ...]:
        return tuple(r for a, names in self.escalations if a == after for r in names)


def single(route: str) -> Recipients:
    """The simplest case: the request's own ``route`` (or the default route), no tree."""
    return Recipients(now=(route,))


def recipients(
    config: RoutingConfig | None, request: InteractionRequest, default_route: str, now: float
) -> Recipients:
    """From the routing config when there is one and the request names no route itself."""
    if config is None or request.route:
        return single(request.route or default_route)
    values = (request.kind, request.node_name or "", request.requester.id, request.thread_id)
    decisions = compiled(config).decisions
    key = decisions.key(values, request.labels)
    known = decisions.known.get(key)
    if isinstance(known, Recipients):
        return known
    fields = RequestFields(
        request.kind, request.node_name, request.requester.id, request.thread_id, request.labels
    )
    decided = _recipients(config, fields, now)
    if not decided.timed:  # the same at any time: remembered for requests that read alike
        decisions.remember(key, decided)
    return decided


def _recipients(config: RoutingConfig, fields: RequestFields, now: float) -> Recipients:
    planned = plan(config, fields, now)
    reminders: dict[str, tuple[float, int | None]] = {}
    steps: dict[float, list[str]] = {}
    for p in planned:
        if p.route.reminder_every:
            reminders[p.receiver] = (p.route.reminder_every, p.route.max_reminders)
        for after, names in p.route.escalation:
            steps.setdefault(after, [])
            steps[after] += [n for n in names if n not in steps[after]]
    return Recipients(
        now=tuple(p.receiver for p in planned if not p.held(now)),
        held=tuple((p.receiver, p.at) for p in planned if p.held(now)),
        reminders=MappingProxyType(reminders),
        escalations=tuple((after, tuple(names)) for after, names in sorted(steps.items())),
        routed=True,
        timed=any(p.route.active_time for p in planned),
    )
