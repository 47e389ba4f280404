"""When each receiver is notified: now, or (outside its route's time windows) when a window
opens, or instead another receiver (``inactive: send``). Pure: ``now`` is given."""

from dataclasses import dataclass

from hitl.core.routing.compiled import Settled
from hitl.core.routing.config import RoutingConfig
from hitl.core.routing.tree import RequestFields, Target, evaluate


@dataclass(frozen=True, slots=True)
class Planned:
    receiver: str
    route: Settled
    at: float  # when to notify: ``now``, or later for a held notification

    def held(self, now: float) -> bool:
        return self.at > now


def plan(config: RoutingConfig, request: RequestFields, now: float | None) -> list[Planned]:
    """The receivers of ``request`` and when to notify each. ``now`` None ignores the time
    windows (every route active), as route tests without ``at`` do."""
    out: list[Planned] = []
    seen: set[str] = set()
    for target in evaluate(config, request):
        for planned in _timed(config, target, now):
            if planned.receiver not in seen:
                seen.add(planned.receiver)
                out.append(planned)
    return out


def _timed(config: RoutingConfig, target: Target, now: float | None) -> list[Planned]:
    route = target.route
    if now is None:
        return [Planned(target.receiver, route, 0.0)]
    if not route.active_time:
        return [Planned(target.receiver, route, now)]
    windows = [w for w in config.time_windows if w.name in route.active_time]
    if any(w.active(now) for w in windows):
        return [Planned(target.receiver, route, now)]
    inactive = route.inactive
    if inactive is not None and inactive.action == "send":
        return [Planned(name, route, now) for name in inactive.receivers]
    opens = [t for w in windows if (t := w.next_start(now)) is not None]
    if not opens:  # a window that never opens: better late than never, so send now
        return [Planned(target.receiver, route, now)]
    return [Planned(target.receiver, route, min(opens))]
