"""Every action of every kind, answered through the real broker, decides the outcome it names."""

from typing import Any

from hitl.broker.service import BrokerService
from hitl.cli.samples import SAMPLES
from hitl.sdk import HitlClient, Responder
from hitl_contract import HumanResponse, Identity
from hitl_contract.kinds import KIND_MODELS
from tests.helpers import eventually

ANSWERS: dict[tuple[str, str], dict[str, Any]] = {
    ("approval", "approve"): {},
    ("approval", "reject"): {"reason": "over budget"},
    ("choice", "choose"): {"choice": 1},
    ("text_input", "respond"): {"text": "more tests"},
    ("edit", "edit"): {"edited": "better text"},
    ("conversation", "respond"): {"message": "go on"},
    ("conversation", "end"): {},
    ("form", "submit"): {"answers": {"service": "s", "tier": "gold"}},
    ("clarify", "answer"): {"answers": {"response": "whatever you think"}},
    ("clarify", "proceed"): {"answers": {"1": "advanced", "2": "no"}},
    ("confirmation", "proceed"): {},
    ("confirmation", "revise"): {"feedback": "narrower"},
    ("preview", "proceed"): {},
    ("preview", "refine"): {"feedback": "shorter"},
    ("validation", "proceed"): {},
    ("validation", "refine"): {"feedback": "more examples"},
    ("batch", "decide"): {"all": "reject"},
}


def cases() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (kind, action, ANSWERS.get((kind, action), {}))
        for kind, model in KIND_MODELS.items()
        for action in model.allowed_actions()
    ]


def test_the_table_covers_every_action() -> None:
    covered = {(k, a) for k, a, _ in cases() if a not in ("cancel", "best_judgement")}
    assert covered == set(ANSWERS)


async def test_every_action_of_every_kind(
    broker: BrokerService, client: HitlClient, responder: Responder
) -> None:
    store = broker.store
    assert store is not None
    for kind, action, data in cases():
        fields, _, _ = SAMPLES[kind]
        fields = dict(fields)
        request = client.new_request(
            kind, thread_id="all-actions", prompt=fields.pop("prompt"), **fields
        )
        await client.submit(request)
        await eventually(lambda r=request: store.load(r.id))
        receipt = await responder.respond(
            HumanResponse(
                interaction_id=request.id,
                action=action,
                data=data,
                responder=Identity(id="pat"),
                channel="test",
            )
        )
        assert receipt is not None and receipt.result == "accepted", (kind, action, receipt)
        outcome = await client.wait(request.id, timeout=10)
        expected = "cancelled" if action == "cancel" else "resolved"
        assert (outcome.kind, outcome.action, outcome.status) == (kind, action, expected)
