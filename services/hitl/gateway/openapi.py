"""The OpenAPI document: FastAPI's, with every error response described as what the gateway
really sends, ``application/problem+json`` (``ProblemDetail``), in place of FastAPI's
``HTTPValidationError``, which the gateway never returns."""

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, TypeAdapter

from hitl.gateway.problems import PROBLEM_JSON, ProblemDetail
from hitl_contract import InteractionRequest

_REF = "#/components/schemas/{model}"
_MEANING = {
    400: "Bad parameters, cursor or malformed JSON; `path` names the field.",
    401: "No API key, or an unknown or revoked one.",
    403: "The key lacks the scope, or its identity may not answer this interaction.",
    404: "No such interaction.",
    409: "Already resolved (the recorded outcome attached), or an id used for another request.",
    413: "The body is over the size limit.",
    415: "The body is not JSON.",
    422: "The body does not fit; `errors` lists every field at fault.",
    500: "The gateway failed; `error_id` finds it in the logs.",
    503: "RabbitMQ or Redis is unreachable, or the gateway is not ready; retry.",
    504: "No receipt from the broker in time; the answer may still be applied.",
}
_FILLED_IN = ("id", "reply_to", "requester")
AUTHENTICATED = (401, 403, 500, 503)
WITH_BODY = (400, 413, 415, 422)


def problems(*statuses: int, model: type[BaseModel] = ProblemDetail) -> dict[int | str, Any]:
    """``responses=`` of a route: each status described as a problem+json body."""
    schema = {"$ref": _REF.format(model=model.__name__)}
    return {
        status: {"description": _MEANING[status], "content": {PROBLEM_JSON: {"schema": schema}}}
        for status in sorted(statuses)
    }


def document(app: FastAPI, *extra_models: type[BaseModel]) -> dict[str, Any]:
    """The app's OpenAPI document, with the problem models it refers to, the answers every
    authenticated route may give, and without FastAPI's default validation error schemas."""
    doc = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in new_request_schemas().items():
        schemas.setdefault(name, schema)
    models: tuple[type[BaseModel], ...] = (ProblemDetail, *extra_models)
    for model in models:
        found = model.model_json_schema(ref_template=_REF)
        schemas.update(found.pop("$defs", {}))
        schemas[model.__name__] = found
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if path.startswith("/v1/"):  # every /v1 route asks for a key (tests check it)
                for status, response in problems(*AUTHENTICATED).items():
                    responses.setdefault(str(status), response)
            default = responses.get("422", {}).get("content", {})
            if "application/json" in default:  # FastAPI's own, for the parameters
                responses.pop("422")
                responses.update({str(k): v for k, v in problems(400).items()})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return doc


def new_request_schemas() -> dict[str, Any]:
    """``NewRequest``, the body of POST /v1/interactions: an ``InteractionRequest`` whose
    ``id``, ``reply_to`` and ``requester`` may be left out (the gateway fills them in), as
    one ``New<Kind>Request`` per kind; with every definition it refers to."""
    schema = TypeAdapter(InteractionRequest).json_schema(ref_template=_REF)
    defs: dict[str, Any] = schema.pop("$defs", {})
    mapping: dict[str, str] = {}
    for option in schema["oneOf"]:
        name = option["$ref"].rsplit("/", 1)[-1]
        member = copy.deepcopy(defs[name])
        member["required"] = [f for f in member.get("required", []) if f not in _FILLED_IN]
        member["title"] = f"New{name}"
        defs[f"New{name}"] = member
        mapping[member["properties"]["kind"]["const"]] = _REF.format(model=f"New{name}")
    defs["NewRequest"] = {
        "title": "NewRequest",
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "kind", "mapping": mapping},
    }
    return defs
