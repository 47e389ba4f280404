"""A small FastAPI app around some of the gateway's routers, served by uvicorn on a free port,
for tests of one router over real HTTP without the whole gateway service."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import orjson
import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from hitl.gateway.deps import GatewayContext, Principal, Scope
from hitl.gateway.problems import PROBLEM_JSON, Problem
from hitl_contract import Identity


@dataclass
class StaticKeys:
    """``ApiKeys`` from a fixed map of token -> principal."""

    principals: dict[str, Principal] = field(default_factory=dict)

    def add(self, token: str, identity: str, *scopes: Scope) -> str:
        self.principals[token] = Principal(
            key_id=f"key-{token}", identity=Identity(id=identity), scopes=frozenset(scopes)
        )
        return token

    async def authenticate(self, token: str) -> Principal | None:
        return self.principals.get(token)


def app_of(context: GatewayContext, routers: Iterable[APIRouter]) -> FastAPI:
    app = FastAPI()
    app.state.context = context
    for router in routers:
        app.include_router(router)

    async def problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return Response(
            orjson.dumps(exc.body(request.url.path)),
            status_code=exc.status,
            media_type=PROBLEM_JSON,
            headers=exc.headers,
        )

    app.add_exception_handler(Problem, problem)
    return app


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 and a free port; yields its base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()  # it failed to start: raise why
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)
