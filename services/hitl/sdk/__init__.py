"""The Python producer SDK: ask people through hitl and get exactly one outcome back."""

from hitl.sdk.client import HitlClient, OutcomeHandler
from hitl.sdk.responder import Responder

__all__ = ["HitlClient", "OutcomeHandler", "Responder"]
