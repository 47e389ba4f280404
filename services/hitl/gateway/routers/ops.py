"""Operators' endpoints on the gateway's own port: /healthz (the process answers), /readyz
(RabbitMQ, Redis and the receipts consumer attached: the host's readiness checks), /metrics
(Prometheus: HTTP requests by route and status, and the runtime's metrics)."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from hitl.gateway.deps import context
from hitl.gateway.openapi import problems

router = APIRouter(tags=["ops"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    components: dict[str, str] = {}


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Every component the gateway needs works right now",
    responses={503: {"model": Readiness, "description": "Not ready; components say why."}},
)
async def readyz(request: Request) -> Response | Readiness:
    report = await context(request).ops.report()
    readiness = Readiness(
        ready=all(problem is None for _, problem in report),
        components={name: problem or "ok" for name, problem in report},
    )
    if readiness.ready:
        return readiness
    return JSONResponse(readiness.model_dump(), status_code=503)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics",
    responses={
        200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}},
        **problems(500),
    },
)
async def metrics(request: Request) -> PlainTextResponse:
    body = await context(request).ops.scrape()
    return PlainTextResponse(body, media_type=CONTENT_TYPE_LATEST)
