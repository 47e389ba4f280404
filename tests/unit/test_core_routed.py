"""The state machine with receivers chosen by a routing config: one notification per
receiver, held notifications, per-receiver reminders and route escalations, each timer
checked against the receivers the config chooses when it fires."""

from types import MappingProxyType

import orjson

from hitl.broker.outbound import render
from hitl.core.decoding import decode_request
from hitl.core.machine import Emit, InteractionState, Notify, Transition, fire, open_interaction
from hitl.core.routing.recipients import Recipients, single
from hitl_contract.wire import Names
from tests.helpers import raw_request

NOW = 1_800_000_000.0
TO = Recipients(
    now=("a", "b"),
    held=(("c", NOW + 500),),
    reminders=MappingProxyType({"a": (60.0, 2)}),
    escalations=((120.0, ("d", "a")),),
    routed=True,
)


def opened(to: Recipients = TO) -> Transition:
    request = decode_request(orjson.dumps(raw_request()), 1 << 20)
    return open_interaction(request, NOW, "default", to=to)


def notified(t: Transition) -> list[tuple[str, str, int]]:
    return [
        (c.notification.route, c.notification.reason.value, c.notification.attempt)
        for c in t.commands
        if isinstance(c, Notify)
    ]


def events(t: Transition) -> list[tuple[str, list[str] | None]]:
    return [(c.event.event.value, c.event.receivers) for c in t.commands if isinstance(c, Emit)]


def step(state: InteractionState, purpose: str, at: float, to: Recipients = TO) -> Transition:
    t = fire(state, purpose, at, to)
    assert t is not None
    return t


def test_each_receiver_gets_its_notification_and_the_event_names_them_all() -> None:
    t = opened()
    assert notified(t) == [("a", "requested", 1), ("b", "requested", 1)]
    assert events(t) == [("requested", None), ("notified", ["a", "b"])]
    assert dict(t.state.reached) == {"a": 1, "b": 1}
    assert dict(t.state.timers) == {
        "remind:a": NOW + 60,
        "notify:c": NOW + 500,
        "escalate@120.0": NOW + 120,
    }
    ids = [m.envelope.message_id for m in render(t, Names("x")).messages if not m.event]
    iid = t.state.request.id
    assert ids == [f"notification:{iid}:requested:1:a", f"notification:{iid}:requested:1:b"]


def test_reminders_stop_at_the_routes_maximum() -> None:
    state = opened().state
    first = step(state, "remind:a", NOW + 60)
    assert notified(first) == [("a", "reminder", 2)]
    assert first.state.timers["remind:a"] == NOW + 120
    second = step(first.state, "remind:a", NOW + 120)
    assert notified(second) == [("a", "reminder", 3)]
    assert "remind:a" not in second.state.timers
    assert second.state.reached["a"] == 3


def test_a_held_notification_goes_out_when_its_window_opens_or_waits_longer() -> None:
    state = opened().state
    later = Recipients(now=("a", "b"), held=(("c", NOW + 900),), routed=True)
    moved = step(state, "notify:c", NOW + 500, later)
    assert notified(moved) == [] and moved.state.timers["notify:c"] == NOW + 900
    opened_now = Recipients(now=("a", "b", "c"), routed=True)
    sent = step(moved.state, "notify:c", NOW + 900, opened_now)
    assert notified(sent) == [("c", "requested", 2)]
    assert events(sent) == [("notified", ["c"])]
    assert "notify:c" not in sent.state.timers and sent.state.reached["c"] == 1


def test_an_escalation_adds_only_receivers_not_reached_yet() -> None:
    t = step(opened().state, "escalate@120.0", NOW + 120)
    assert notified(t) == [("d", "escalation", 2)]
    assert events(t) == [("escalated", ["d"])]
    assert dict(t.state.reached) == {"a": 1, "b": 1, "d": 1}


def test_timers_of_receivers_the_config_no_longer_chooses_are_dropped() -> None:
    state = opened().state
    gone = single("default")
    for purpose in ("remind:a", "notify:c", "escalate@120.0"):
        t = step(state, purpose, NOW + 600, gone)
        assert notified(t) == [] and purpose not in t.state.timers


def test_a_request_whose_receivers_all_wait_notifies_nobody_yet() -> None:
    t = opened(Recipients(now=(), held=(("c", NOW + 10),), routed=True))
    assert notified(t) == [] and events(t) == [("requested", None)]
    assert dict(t.state.timers) == {"notify:c": NOW + 10}


def test_the_requests_own_reminders_reach_every_routed_receiver() -> None:
    request = decode_request(orjson.dumps(raw_request(reminder_every_seconds=30)), 1 << 20)
    state = open_interaction(request, NOW, "default", to=TO).state
    t = step(state, "remind", NOW + 30)
    assert notified(t) == [("a", "reminder", 2), ("b", "reminder", 2)]
    assert events(t) == [("reminded", ["a", "b"])]


def test_without_a_routing_config_nothing_changes() -> None:
    request = decode_request(orjson.dumps(raw_request(route="ops")), 1 << 20)
    t = open_interaction(request, NOW, "default")
    assert notified(t) == [("ops", "requested", 1)]
    assert events(t) == [("requested", None), ("notified", None)]
    assert dict(t.state.reached) == {}
    [note] = [m for m in render(t, Names("x")).messages if not m.event]
    assert note.envelope.message_id == f"notification:{request.id}:requested:1"
