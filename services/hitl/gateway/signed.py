"""Answers that come back from webhook receivers, signed per Standard Webhooks with the
receiver's own secret(s) instead of an API key: a receiver (a bot, a chat backend) shows the
request to its people, and posts their answer here. The signature proves which receiver sent
it; the receiver vouches for the person it names. Stale, forged and replayed requests (a
webhook-id accepted before, by any replica) change nothing.
"""

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from hitl.core.routing.config import WebhookReceiver
from hitl.notifiers.secrets import SecretResolver
from hitl.notifiers.webhooks.verification import SeenIds
from hitl.runtime.routing import Router
from hitl_contract import Identity, JsonObject

ANSWER = "interaction.answer"


class SignedAnswer(BaseModel):
    """The body a receiver signs and POSTs to ``/v1/webhooks/{receiver}/answers``."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(default=ANSWER, pattern=f"^{ANSWER}$", description=ANSWER)
    interaction_id: UUID
    action: str = Field(min_length=1, max_length=64)
    data: JsonObject = Field(default_factory=dict)
    response_id: UUID | None = Field(
        default=None, description="Idempotency key; by default the webhook-id decides one."
    )
    responder: Identity = Field(description="The person who answered, as the receiver knows them.")


class SignedReceivers:
    """The webhook receivers of the routing file in force, and the ids accepted already."""

    def __init__(self, router: Router, seen: SeenIds, secrets: SecretResolver) -> None:
        self._router = router
        self._seen = seen
        self._secrets = secrets

    def receiver(self, name: str) -> WebhookReceiver | None:
        config = self._router.config
        found = [r for r in (config.receivers if config else []) if r.name == name]
        return found[0] if found and isinstance(found[0], WebhookReceiver) else None

    def secrets(self, receiver: WebhookReceiver) -> list[str]:
        return [self._secrets(ref) for ref in receiver.signing_secrets]

    def seen(self, receiver: str) -> SeenIds:
        """Ids accepted from ``receiver``: scoped, so two receivers' ids never collide."""
        return _Scoped(self._seen, receiver)


class _Scoped:
    def __init__(self, seen: SeenIds, receiver: str) -> None:
        self._seen = seen
        self._receiver = receiver

    async def first_time(self, webhook_id: str, ttl_seconds: int) -> bool:
        return await self._seen.first_time(f"{self._receiver}/{webhook_id}", ttl_seconds)

    async def forget(self, webhook_id: str) -> None:
        await self._seen.forget(f"{self._receiver}/{webhook_id}")
