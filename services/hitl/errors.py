"""One error tree for the whole project. Adapters translate library errors into it at the edge
(``raise ... from exc``) so callers never catch aio-pika or redis exceptions themselves."""

from hitl_contract import Claim, ErrorDetail, InteractionOutcome


class HitlError(Exception):
    """Root of every error hitl raises on purpose."""


class ConfigError(HitlError):
    """Settings that cannot work (bad URL, impossible limits)."""


class TransportError(HitlError):
    """RabbitMQ or Redis could not be reached, or dropped us mid-operation."""


class StoreFenced(TransportError):
    """The store may have lost data (Redis came back with less than it had): decisions wait
    until it is reconciled with what was published, or an operator says so."""


class DetailedError(HitlError):
    """An error the sender of a message caused; ``detail`` says what was wrong and where."""

    def __init__(self, detail: ErrorDetail) -> None:
        super().__init__(detail.message if not detail.path else f"{detail.path}: {detail.message}")
        self.detail = detail


class InvalidMessage(DetailedError):
    """A message that does not fit the contract: bad JSON, version, kind, field or size."""


class StateError(HitlError):
    """An operation that does not fit the interaction's current state."""


class UnknownInteraction(StateError, DetailedError):
    """No interaction has this id (never asked, or expired past retention)."""


class InvalidResponse(StateError, DetailedError):
    """An answer that does not fit its interaction's kind; the interaction stays pending."""


class NotAllowed(InvalidResponse):
    """The responder is not among those the request allows to answer."""


class Claimed(InvalidResponse):
    """Someone else holds a claim on the interaction (``hitl.core.claims``): only its holder,
    or the members of the holding team, may answer or claim it until it ends."""

    def __init__(self, detail: ErrorDetail, claim: Claim) -> None:
        super().__init__(detail)
        self.claim = claim


class IdConflict(StateError, DetailedError):
    """A request reused an interaction id with different content."""


class AlreadyResolved(StateError):
    """The interaction already has its outcome; it is attached so the caller can use it."""

    def __init__(self, outcome: InteractionOutcome) -> None:
        super().__init__(f"interaction {outcome.interaction_id} is already {outcome.status}")
        self.outcome = outcome


class NotifierError(HitlError):
    """A notifier channel failed to show a request to people."""


class Retryable(NotifierError):
    """Worth trying again later (timeouts, 5xx, rate limits). ``retry_after``: seconds the
    receiver asked to wait (Retry-After), if it said."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class Permanent(NotifierError):
    """Trying again will not help (bad address, 4xx, a refused destination). ``disable``: the
    receiver asked never to be sent to again (HTTP 410 Gone) until an operator re-enables it."""

    def __init__(self, message: str, *, status: int | None = None, disable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.disable = disable


class WebhookRefused(HitlError):
    """A signed webhook coming in (an answer) that must not be acted on: the endpoint answers
    401 and changes nothing. The subclass says why."""


class MalformedWebhook(WebhookRefused):
    """A webhook-id, webhook-timestamp or webhook-signature header missing or garbled, or a
    body that is not UTF-8 JSON."""


class StaleWebhook(WebhookRefused):
    """A webhook-timestamp more than the tolerance (5 minutes) before or after now."""


class ForgedWebhook(WebhookRefused):
    """No signature matches any of the secrets."""


class ReplayedWebhook(WebhookRefused):
    """A webhook-id accepted before: the same signed request sent again."""


class AskTimeout(HitlError, TimeoutError):
    """``ask`` gave up waiting; the interaction itself is still pending in the broker."""
