"""RFC 9457 problem details: every error the gateway returns is one ``application/problem+json``
body naming what was wrong and where. Routes raise ``Problem``; ``hitl.gateway.handlers`` maps
it, FastAPI's request validation errors and anything unexpected to problem responses in one
place.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://hitl.dev/problems/"  # each type's page: docs/gateway.md#problems


class ProblemDetail(BaseModel):
    """The body of every error response (RFC 9457), with hitl's members."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    code: str | None = Field(default=None, description="hitl's ErrorCode, when it has one.")
    path: str | None = Field(default=None, description="Where in the request, e.g. data.choice.")
    allowed: list[Any] | None = None
    got: Any = None
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Every field-level error, when there are several."
    )


class Problem(Exception):
    """Raise from a route: becomes a problem+json response with ``status``."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.headers = headers
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.kind,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update({k: v for k, v in self.extra.items() if v is not None})
        return body
