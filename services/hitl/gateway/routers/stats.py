"""``GET /v1/stats``: seed 001's analytics by kind, node and responder over a time window,
from the counters the broker keeps as transitions happen (``hitl.core.stats``)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from hitl.core.stats import DEFAULT_TOP, WINDOW_PATTERN, StatsReport, WindowError, report
from hitl.core.stats import resolve_window as resolve
from hitl.gateway.deps import Principal, Scope, context, require
from hitl.gateway.problems import Problem, ProblemDetail
from hitl_contract import ErrorCode

router = APIRouter(prefix="/v1", tags=["stats"])


@router.get(
    "/stats",
    summary="Interaction analytics over a time window",
    response_model=StatsReport,
    responses={400: {"model": ProblemDetail, "description": "A window the counters lack."}},
)
async def stats(
    request: Request,
    _: Annotated[Principal, Depends(require(Scope.READ))],
    window: Annotated[
        str | None,
        Query(
            pattern=WINDOW_PATTERN,
            description="How far back from `until`: 90m, 24h, 7d, 2w (default 24h). Not with "
            "`since`.",
            examples=["24h"],
        ),
    ] = None,
    since: Annotated[
        datetime | None, Query(description="Start of the window (ISO 8601; UTC if no zone).")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="End of the window (ISO 8601); default now.")
    ] = None,
    top: Annotated[
        int, Query(ge=1, le=100, description="Entries in each bottleneck list.")
    ] = DEFAULT_TOP,
) -> StatsReport:
    """Count, approval, timeout and cancel rates and response time p50/p95 by kind, node and
    responder, and the bottlenecks: nodes and responders with the most pending and with the
    slowest answers. Counters are kept per hour, so the window counts whole hours (the
    report says which); pending counts are those of now."""
    ctx = context(request)
    try:
        span = resolve(
            ctx.clock(),
            ctx.settings.analytics_retention_seconds,
            window=window,
            since=since,
            until=until,
        )
    except WindowError as exc:
        raise Problem(
            400,
            "invalid-window",
            "Invalid time window",
            str(exc),
            code=ErrorCode.INVALID_FIELD.value,
            path=exc.field,
        ) from exc
    counters = await ctx.reads.counters(span.hours)
    return report(span, counters, await ctx.reads.pending_counts(), top)
