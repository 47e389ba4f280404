"""One page of a listing, from the read indexes, with the cursor to the next."""

from hitl.gateway import cursors, views
from hitl.gateway.cursors import BadCursor, Filters
from hitl.gateway.deps import GatewayContext
from hitl.gateway.models import InteractionSummary
from hitl.gateway.problems import Problem


async def page(
    ctx: GatewayContext, filters: Filters, limit: int, cursor: str | None
) -> tuple[list[InteractionSummary], str | None]:
    """(the page's interactions, the cursor of the next page or None at the end)."""
    try:
        after = cursors.decode(cursor, filters) if cursor else None
    except BadCursor as exc:
        raise Problem(
            400,
            "invalid-cursor",
            "Invalid cursor",
            f"cursor: {exc}; start again without it, or pass the next_cursor of the previous "
            "page with the same filters and order",
            path="cursor",
        ) from exc
    result = await ctx.reads.query(filters.query(limit, after))
    now = ctx.clock()
    items = [views.summary(state, now) for state in result.items]
    return items, cursors.encode(result.next, filters) if result.next is not None else None
