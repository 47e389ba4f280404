"""hitl through the gateway's REST API (docs/gateway.md) with an API key: a person needs no
broker credentials. Problem responses become the CLI's errors (``hitl.cli.errors``)."""

from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any
from uuid import UUID

import httpx
import orjson
from pydantic import ValidationError

from hitl.cli.backends.port import EventFilter, Listing, Window
from hitl.cli.common import err
from hitl.cli.errors import (
    AlreadyDecided,
    ClaimedByOther,
    CliError,
    NotAllowed,
    Refused,
    Unknown,
    Unreachable,
    Usage,
)
from hitl.core.stats import StatsReport
from hitl.gateway.models import AnswerResult, ClaimResult, InteractionDetail, InteractionPage
from hitl_contract import ErrorCode, ErrorDetail, InteractionOutcome, JsonObject, LifecycleEvent

CONNECT_SECONDS = 5.0
READ_SECONDS = 30.0  # an answer waits for the broker's receipt (the gateway's own bound: 10 s)


class GatewayBackend:
    """``url`` and ``key`` come from HITL_GATEWAY_URL / HITL_GATEWAY_KEY or ``hitl login``;
    ``source`` names where, for messages."""

    def __init__(
        self,
        url: str,
        key: str,
        source: str = "HITL_GATEWAY_URL",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.source = source
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {key}", "Accept": "application/json"},
            timeout=httpx.Timeout(READ_SECONDS, connect=CONNECT_SECONDS),
            transport=transport,
        )

    @property
    def where(self) -> str:
        return f"the gateway at {self.url}"

    async def __aenter__(self) -> "GatewayBackend":
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._http.aclose()

    async def page(self, listing: Listing) -> InteractionPage:
        params: list[tuple[str, str | int]] = [
            (name, value)
            for name, value in (
                ("status", listing.status),
                ("kind", listing.kind),
                ("thread_id", listing.thread_id),
                ("requester", listing.requester),
                ("node", listing.node),
                ("waiting_for", "me" if listing.mine else None),
                ("cursor", listing.cursor),
            )
            if value is not None
        ]
        params += [("label", f"{k}={v}") for k, v in listing.labels.items()]
        params += [("order", "newest" if listing.newest_first else "oldest")]
        params += [("limit", listing.limit)]
        body = await self._call("GET", "/v1/interactions", params=params)
        return InteractionPage.model_validate(body)

    async def detail(self, interaction_id: UUID) -> InteractionDetail | None:
        try:
            body = await self._call("GET", f"/v1/interactions/{interaction_id}")
        except Unknown:
            return None
        return InteractionDetail.model_validate(body)

    async def answer(
        self, interaction_id: UUID, action: str, data: JsonObject, *, hold: bool = False
    ) -> AnswerResult:
        if hold:
            raise Usage(
                "--hold works straight on the servers only: the gateway refuses answers to "
                "interactions it does not know (unset HITL_GATEWAY_URL, or `hitl logout`)"
            )
        body = await self._call(
            "POST",
            f"/v1/interactions/{interaction_id}/responses",
            json={"action": action, "data": data},
        )
        return AnswerResult.model_validate(body)

    async def cancel(self, interaction_id: UUID, reason: str | None) -> AnswerResult:
        body = await self._call(
            "POST",
            f"/v1/interactions/{interaction_id}/cancel",
            json={"reason": reason} if reason else {},
        )
        return AnswerResult.model_validate(body)

    async def claim(
        self, interaction_id: UUID, *, ttl_seconds: int | None = None, team: str | None = None
    ) -> ClaimResult:
        body: JsonObject = {"ttl_seconds": ttl_seconds, "team": team}
        sent = {name: value for name, value in body.items() if value is not None}
        path = f"/v1/interactions/{interaction_id}/claim"
        return ClaimResult.model_validate(await self._call("POST", path, json=sent))

    async def release(self, interaction_id: UUID, *, admin: bool = False) -> ClaimResult:
        if admin:
            raise Usage(
                "--admin works straight on the servers only: through the gateway, a key with "
                "the admin scope releases anyone's claim (without --admin)"
            )
        path = f"/v1/interactions/{interaction_id}/claim"
        return ClaimResult.model_validate(await self._call("DELETE", path))

    async def events(
        self, wanted: EventFilter, ready: Callable[[], None] | None = None
    ) -> AsyncIterator[LifecycleEvent]:
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("event", n) for n in sorted(wanted.events)
        ]
        for name, value in (
            ("kind", wanted.kind),
            ("thread_id", wanted.thread_id),
            ("interaction_id", wanted.interaction_id),
        ):
            if value is not None:
                params.append((name, str(value)))
        timeout = httpx.Timeout(None, connect=CONNECT_SECONDS)
        try:
            async with self._http.stream(
                "GET", "/v1/events", params=params, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    self._raise(response)
                if ready is not None:
                    ready()
                async for event in _sse(response, _missed):
                    yield event
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    async def stats(self, window: Window) -> StatsReport:
        params: dict[str, str | int] = {"top": window.top}
        if window.window:
            params["window"] = window.window
        if window.since:
            params["since"] = window.since.isoformat()
        if window.until:
            params["until"] = window.until.isoformat()
        return StatsReport.model_validate(await self._call("GET", "/v1/stats", params=params))

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code >= 400:
            self._raise(response)
        return response.json()

    def _unreachable(self, exc: httpx.TransportError) -> Unreachable:
        reason = str(exc) or type(exc).__name__
        return Unreachable(
            f"cannot reach the gateway at {self.url} ({reason}); check {self.source} and that "
            "`hitl gateway` is running"
        )

    def _raise(self, response: httpx.Response) -> None:
        problem = _problem(response)
        status = response.status_code
        detail = str(problem.get("detail") or problem.get("title") or response.reason_phrase)
        kind = str(problem.get("type", "")).rsplit("/", 1)[-1]
        if status == 401:
            raise NotAllowed(
                f"the gateway at {self.url} refused the key ({detail}); check HITL_GATEWAY_KEY "
                "or run `hitl login` again"
            )
        if status == 403:
            raise NotAllowed(f"the gateway at {self.url} says: {detail}")
        if status == 404 and kind == "unknown-interaction":
            raise Unknown(detail)
        if status == 409 and kind == "claimed":
            raise ClaimedByOther(_detail(problem))
        if status == 409 and isinstance(problem.get("outcome"), dict):
            try:
                raise AlreadyDecided(InteractionOutcome.model_validate(problem["outcome"]))
            except ValidationError:
                pass
        if status == 422 and kind in ("invalid-answer", "invalid-claim"):
            raise Refused(_detail(problem))
        if status in (502, 503, 504):
            raise Unreachable(f"the gateway at {self.url} answered {status}: {detail}")
        if 400 <= status < 500:
            raise Usage(f"the gateway at {self.url} answered {status}: {detail}")
        raise CliError(f"the gateway at {self.url} answered {status}: {detail}")


def _reason(data: str) -> str:
    try:
        return str(orjson.loads(data).get("reason", data))
    except (orjson.JSONDecodeError, AttributeError):
        return data


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _detail(problem: dict[str, Any]) -> ErrorDetail:
    def one(p: dict[str, Any], message_key: str) -> ErrorDetail:
        try:
            code = ErrorCode(p.get("code") or ErrorCode.INVALID_RESPONSE)
        except ValueError:
            code = ErrorCode.INVALID_RESPONSE
        return ErrorDetail(
            code=code,
            message=str(p.get(message_key) or ""),
            path=p.get("path"),
            allowed=p.get("allowed"),
            got=p.get("got"),
        )

    detail = one(problem, "detail")
    errors = problem.get("errors")
    if isinstance(errors, list) and errors:
        detail = detail.model_copy(update={"details": [one(e, "message") for e in errors]})
    return detail


def _missed(reason: str) -> None:
    err.print(
        f"hitl: events may be missing ({reason}); `hitl pending` shows where things stand",
        markup=False,
    )


async def _sse(
    response: httpx.Response, missed: Callable[[str], None]
) -> AsyncIterator[LifecycleEvent]:
    """The lifecycle events of a text/event-stream. A ``reset`` (the gateway could not resume
    without a hole) is told to ``missed`` and the stream goes on; ``dropped`` (too slow) ends
    it with an error."""
    name, data = "", []
    async for line in response.aiter_lines():
        if line.startswith(":"):
            continue
        if line:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
            continue
        if data and name not in ("reset", "dropped"):
            yield LifecycleEvent.model_validate_json("\n".join(data))
        elif name == "reset":
            missed(_reason("\n".join(data)))
        elif name == "dropped":
            raise Unreachable("the gateway dropped the event stream (too slow to keep up)")
        name, data = "", []
