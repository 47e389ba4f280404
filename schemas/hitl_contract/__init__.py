"""The hitl wire contract: every message that crosses RabbitMQ, as pydantic v2 models.

Shared by the broker service and the producer SDK, and exported to JSON Schema and AsyncAPI
under ``schemas/`` so producers in other languages can speak it with a plain AMQP client.
"""

from hitl_contract.common import ErrorCode, ErrorDetail, Identity, JsonObject
from hitl_contract.events import LifecycleEvent, LifecycleEventName, Notification, NotifyReason
from hitl_contract.kinds import (
    KIND_NAMES,
    ApprovalRequest,
    ChoiceRequest,
    InteractionRequest,
    RequestBase,
    TextInputRequest,
    TimeoutPolicy,
)
from hitl_contract.outcome import DecidedBy, InteractionOutcome, OutcomeStatus
from hitl_contract.response import HumanResponse, ReceiptResult, ResponseReceipt
from hitl_contract.version import SCHEMA_VERSION

__all__ = [
    "KIND_NAMES",
    "SCHEMA_VERSION",
    "ApprovalRequest",
    "ChoiceRequest",
    "DecidedBy",
    "ErrorCode",
    "ErrorDetail",
    "HumanResponse",
    "Identity",
    "InteractionOutcome",
    "InteractionRequest",
    "JsonObject",
    "LifecycleEvent",
    "LifecycleEventName",
    "Notification",
    "NotifyReason",
    "OutcomeStatus",
    "ReceiptResult",
    "RequestBase",
    "ResponseReceipt",
    "TextInputRequest",
    "TimeoutPolicy",
]
