"""One example of each message, the same interaction throughout: an invoice approved on Slack."""

from datetime import UTC, datetime
from uuid import UUID

from pydantic import BaseModel

from hitl_contract.claims import InteractionClaim
from hitl_contract.common import Identity
from hitl_contract.events import (
    LifecycleEvent,
    LifecycleEventName,
    LifecycleEvents,
    Notification,
    NotifyReason,
)
from hitl_contract.kinds import ApprovalRequest, TimeoutPolicy
from hitl_contract.outcome import DecidedBy, InteractionOutcome, OutcomeStatus
from hitl_contract.response import HumanResponse, ReceiptResult, ResponseReceipt
from hitl_contract.wire import DEFAULT_ROUTE


def examples() -> dict[str, BaseModel]:
    iid = UUID("0b6f2c1e-4d8a-4e0b-9f3c-6a2d1e5b7c90")
    rid = UUID("7d1e9a42-3c5b-4f6e-8a1d-2b9c0e4f5a63")
    asked = datetime(2025, 1, 15, 9, 30, tzinfo=UTC)
    answered = datetime(2025, 1, 15, 9, 42, 7, tzinfo=UTC)
    billing = Identity(id="billing", service="billing")
    alice = Identity(id="alice@example.com", display_name="Alice")
    request = ApprovalRequest(
        id=iid,
        thread_id="invoice-run-42",
        node_name="pay_invoice",
        prompt="Pay invoice INV-1042 (500.00 EUR) to ACME GmbH?",
        context={"invoice": "INV-1042", "amount": "500.00", "currency": "EUR"},
        labels={"team": "finance"},
        timeout_seconds=3600,
        on_timeout=TimeoutPolicy(action="reject", data={"reason": "nobody answered"}),
        reply_to="billing",
        requester=billing,
        resume_state={"step": 3},
        created_at=asked,
    )
    response = HumanResponse(
        interaction_id=iid,
        response_id=rid,
        action="approve",
        data={"reason": "within budget"},
        responder=alice,
        channel="slack",
        responded_at=answered,
    )
    outcome = InteractionOutcome(
        interaction_id=iid,
        thread_id=request.thread_id,
        kind=request.kind,
        status=OutcomeStatus.RESOLVED,
        action="approve",
        data={"reason": "within budget"},
        decided_by=DecidedBy(type="person", identity=alice, channel="slack"),
        response_id=rid,
        requested_at=asked,
        resolved_at=answered,
        resume_state=request.resume_state,
    )
    return {
        "request": request,
        "response": response,
        "claim": InteractionClaim(
            interaction_id=iid,
            claim_id=UUID("3f2a8c6d-1b4e-4a7f-9c2d-5e8b0a1f6d34"),
            by=Identity(id="alice@example.com", display_name="Alice", groups=["finance"]),
            team="finance",
            ttl_seconds=900,
            channel="slack",
        ),
        "receipt": ResponseReceipt(
            interaction_id=iid, response_id=rid, result=ReceiptResult.ACCEPTED, outcome=outcome
        ),
        "outcome": outcome,
        "notification": Notification(
            interaction_id=iid,
            reason=NotifyReason.REQUESTED,
            route=DEFAULT_ROUTE,
            attempt=1,
            deadline=datetime(2025, 1, 15, 10, 30, tzinfo=UTC),
            request=request,
        ),
        "events": LifecycleEvents(
            events=[
                LifecycleEvent(
                    event=LifecycleEventName.RESOLVED,
                    event_id=f"{iid}:2:resolved",
                    interaction_id=iid,
                    thread_id=request.thread_id,
                    kind=request.kind,
                    at=answered,
                    response_id=rid,
                    outcome=outcome,
                )
            ]
        ),
    }
