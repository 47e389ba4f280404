"""Calls to Slack's Web API with slack_sdk's async client, on the receiver's bot token and
``api_url``, and what a failure means for a delivery.

- retryable: no answer within the receiver's ``timeout``, a refused or dropped connection,
  HTTP 429 (after its Retry-After) and 5xx, and Slack's own ``ratelimited``,
  ``internal_error``, ``fatal_error``, ``service_unavailable``, ``request_timeout``;
- permanent: every other ``ok: false`` (``channel_not_found``, ``not_in_channel``,
  ``invalid_auth``, ``missing_scope``...), naming the method and Slack's error.

The client's own retries are off: the notifier framework retries, records and falls back.
"""

import asyncio
import math
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from hitl.core.routing.config import SlackReceiver
from hitl.errors import ConfigError, Permanent, Retryable
from hitl.notifiers.secrets import SecretResolver
from hitl.notifiers.webhooks.replies import retry_after

_TEMPORARY = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class SlackApi:
    """Web API calls as a receiver's bot. A client per call: nothing to keep or close."""

    def __init__(self, secrets: SecretResolver) -> None:
        self._secrets = secrets

    async def call(self, receiver: SlackReceiver, method: str, **args: Any) -> dict[str, Any]:
        """The answer's body when Slack says ``ok``; ``Retryable`` or ``Permanent`` else."""
        try:
            token = self._secrets(receiver.token)
        except ConfigError as exc:
            raise Permanent(f"slack receiver {receiver.name}: {exc}") from exc
        client = AsyncWebClient(
            token=token,
            base_url=receiver.api_url,
            timeout=math.ceil(receiver.timeout),
            retry_handlers=[],
        )
        try:
            async with asyncio.timeout(receiver.timeout):
                response = await client.api_call(method, json=args)
        except SlackApiError as exc:
            raise _refused(method, exc) from exc
        except TimeoutError as exc:
            raise Retryable(f"Slack {method} did not answer within {receiver.timeout:g} s") from exc
        except (aiohttp.ClientError, SlackClientError, OSError) as exc:
            raise Retryable(f"Slack {method} failed: {exc or type(exc).__name__}") from exc
        return dict(response.data) if isinstance(response.data, dict) else {}


def _refused(method: str, exc: SlackApiError) -> Retryable | Permanent:
    status = exc.response.status_code
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    error = str(data.get("error") or f"HTTP {status}")
    text = f"Slack {method}: {error}"
    if status == 429 or status >= 500 or error in _TEMPORARY:
        header = exc.response.headers.get("retry-after") or exc.response.headers.get("Retry-After")
        wait = retry_after(str(header) if header is not None else None, 0.0)
        return Retryable(text, retry_after=wait, status=status)
    return Permanent(text, status=status)
