"""``/v1/threads``: is a thread waiting on a person? (A chat blocks its input while a form is
pending; a workflow resumes by thread.)"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.convertors import PathConvertor, register_url_convertor

from hitl.gateway.cursors import Filters
from hitl.gateway.deps import Principal, Scope, context, require
from hitl.gateway.models import ThreadPending
from hitl.gateway.openapi import AUTHENTICATED, problems
from hitl.gateway.pages import page

router = APIRouter(prefix="/v1/threads", tags=["threads"])


class AnyText(PathConvertor):
    """A path segment of any text: Starlette's ``path`` is ``.*``, whose dot stops at a line
    break, so a thread id holding one (the contract allows any text) matched no route."""

    regex = "(?s:.*)"


register_url_convertor("any_text", AnyText())


@router.get(
    "/{thread_id:any_text}/pending",  # a thread id may hold "/" (sent as %2F) or a line break
    response_model=ThreadPending,
    summary="A thread's pending interactions, oldest first",
    responses=problems(400, *AUTHENTICATED),
)
async def thread_pending(
    request: Request,
    who: Annotated[Principal, Depends(require(Scope.READ))],
    thread_id: Annotated[str, Path(min_length=1, max_length=256)],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=512, description="A page's next_cursor.")
    ] = None,
) -> ThreadPending:
    filters = Filters(status="pending", thread_id=thread_id, newest_first=False)
    items, next_cursor = await page(context(request), filters, limit, cursor)
    return ThreadPending(
        thread_id=thread_id, pending=bool(items), items=items, next_cursor=next_cursor
    )
