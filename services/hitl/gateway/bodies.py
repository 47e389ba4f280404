"""Request bodies are checked before anything parses them: their size (413) and, when there is
one, that it is JSON (415). A pure ASGI middleware: a declared Content-Length over the limit is
refused without keeping a byte; otherwise the body is read up to the limit and handed on, so a
chunked upload cannot slip past it either. Before a refusal, what the client still sends is read
and dropped (up to a bound), so it gets to read the answer instead of a reset connection.

Under ``forms_under`` (the web inbox, email answer links, Slack) an HTML form's body
(``application/x-www-form-urlencoded``) is taken too, and a refusal there is a short HTML page
a person can read.
"""

import html
from email.message import Message as MimeMessage

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hitl.gateway.problems import PROBLEM_JSON, Problem

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
_DROP_AT_MOST_TIMES = 16


class BodyLimits:
    """The middleware: ``BodyCheck`` on every request with a body."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, forms_under: tuple[str, ...] = ()) -> None:
        self.app = app
        self.check = BodyCheck(max_bytes, forms_under)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        checked = await self.check.read(scope, receive, send)
        if checked is not None:
            body, disconnected = checked
            await self.app(scope, _replay(body, disconnected, receive), send)


class BodyCheck:
    def __init__(self, max_bytes: int, forms_under: tuple[str, ...] = ()) -> None:
        self.max_bytes = max_bytes
        self.forms_under = forms_under

    async def read(self, scope: Scope, receive: Receive, send: Send) -> tuple[bytes, bool] | None:
        """(the whole body, whether the client went away) of a request whose body passes;
        None when it did not, and the refusal (413 or 415) was sent."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        forms = bool(self.forms_under) and scope["path"].startswith(self.forms_under)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._drop_rest(receive)
            await _refuse(self._too_large(int(declared)), scope, send, forms)
            return None
        body, disconnected = await self._read(receive)
        if body is None:
            await self._drop_rest(receive)
            await _refuse(self._too_large(None), scope, send, forms)
            return None
        content_type = headers.get("content-type")
        if body and not (_is_json(content_type) or (forms and _is_form(content_type))):
            await _refuse(_not_json(content_type), scope, send, forms)
            return None
        return body, disconnected

    async def _read(self, receive: Receive) -> tuple[bytes | None, bool]:
        """(the whole body, or None past the limit; whether the client went away)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks), True
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None, False
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), False

    async def _drop_rest(self, receive: Receive) -> None:
        """Read and drop the rest of a refused body, up to a few times the limit."""
        left = _DROP_AT_MOST_TIMES * self.max_bytes
        while left > 0:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return
            left -= len(message.get("body", b""))

    def _too_large(self, size: int | None) -> Problem:
        sent = f"{size} bytes" if size is not None else "more"
        return Problem(
            413,
            "payload-too-large",
            "Request body too large",
            f"the body is {sent}; the limit is {self.max_bytes} bytes",
            code="payload_too_large",
            allowed=[f"<= {self.max_bytes} bytes"],
            got=size,
        )


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    if content_type == "application/json":  # what nearly every client sends: no parsing
        return True
    mime = MimeMessage()
    mime["content-type"] = content_type
    subtype = mime.get_content_subtype()
    return mime.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _is_form(content_type: str | None) -> bool:
    mime = MimeMessage()
    mime["content-type"] = content_type or ""
    return mime.get_content_type() == "application/x-www-form-urlencoded"


def _not_json(content_type: str | None) -> Problem:
    return Problem(
        415,
        "unsupported-media-type",
        "Unsupported media type",
        "request bodies are JSON: send 'Content-Type: application/json'",
        path="Content-Type",
        allowed=["application/json"],
        got=content_type,
    )


def _replay(body: bytes, disconnected: bool, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if disconnected:
            return {"type": "http.disconnect"}
        return await receive()

    return replay


async def _refuse(problem: Problem, scope: Scope, send: Send, page: bool = False) -> None:
    if page:
        media, body = "text/html; charset=utf-8", _page(problem)
    else:
        media, body = PROBLEM_JSON, orjson.dumps(problem.body(scope.get("path")))
    await send(
        {
            "type": "http.response.start",
            "status": problem.status,
            "headers": [
                (b"content-type", media.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _page(problem: Problem) -> bytes:
    title, detail = html.escape(problem.title), html.escape(problem.detail or "")
    return (
        f'<!doctype html><html lang="en"><meta charset="utf-8"><title>{title}</title>'
        f"<h1>{title}</h1><p>{detail}. Nothing was sent: go back and try again.</p>"
    ).encode()
