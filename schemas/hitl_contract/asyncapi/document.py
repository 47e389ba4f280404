"""The document itself: info, servers, the namespace, and the parts from the other modules."""

from typing import Any, get_args

import yaml

from hitl_contract.asyncapi.channels import channels
from hitl_contract.asyncapi.messages import dead_letter_headers_schema, messages
from hitl_contract.asyncapi.operations import operations
from hitl_contract.asyncapi.shared import GENERATED, SCHEMA_REF
from hitl_contract.export import component_schemas
from hitl_contract.kinds import KIND_NAMES, InteractionRequest
from hitl_contract.version import SCHEMA_VERSION
from hitl_contract.wire import (
    CONTENT_TYPE,
    DEFAULT_NAMESPACE,
    DEFAULT_QUEUE_TYPE,
    NAMESPACE_PATTERN,
    PERSISTENT,
    Names,
)


def asyncapi_document(namespace: str = DEFAULT_NAMESPACE) -> dict[str, Any]:
    names = Names(namespace)
    payloads, schemas = component_schemas(SCHEMA_REF)
    components = {name: _asyncapi_schema(schema) for name, schema in schemas.items()}
    components["DeadLetterHeaders"] = dead_letter_headers_schema()
    return {
        "asyncapi": "3.0.0",
        "info": _info(names),
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "rabbitmq": {
                "host": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "Any RabbitMQ with quorum queues; vhost '/' unless configured.",
            },
        },
        "channels": channels(names),
        "operations": operations(),
        "components": {
            "schemas": components,
            "messages": messages(names, payloads),
        },
        "x-hitl-namespace": {
            "setting": "HITL_NAMESPACE",
            "default": DEFAULT_NAMESPACE,
            "pattern": NAMESPACE_PATTERN,
            "description": "Prefix of every exchange, queue and Redis key; isolates deployments.",
        },
    }


class _PlainDumper(yaml.SafeDumper):
    """No ``&id001`` anchors for repeated values: every reader sees plain mappings."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(document: dict[str, Any]) -> str:
    body = yaml.dump(
        document,
        Dumper=_PlainDumper,
        sort_keys=True,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    return f"# {GENERATED}\n{body}"


def _info(names: Names) -> dict[str, Any]:
    ns = names.namespace
    actions = "; ".join(
        f"`{kind}`: {', '.join(actions)}" for kind, actions in kind_actions().items()
    )
    return {
        "title": "hitl",
        "version": f"{SCHEMA_VERSION}.0.0",
        "license": {"name": "Apache-2.0"},
        "description": (
            "Human-in-the-loop interactions over RabbitMQ, described from the hitl broker's "
            "side: it *receives* requests and responses and *sends* outcomes, notifications, "
            "lifecycle events, receipts and dead letters.\n\n"
            f"Every exchange and queue name starts with the namespace, `{ns}` here: it is the "
            "`HITL_NAMESPACE` setting of the broker (and the `namespace` of the SDK). With "
            f"`HITL_NAMESPACE=acme`, read `acme.requests` for `{names.requests}`.\n\n"
            "All exchanges are durable topic exchanges; all queues are durable, of type "
            f"`HITL_QUEUE_TYPE` ({DEFAULT_QUEUE_TYPE} by default), and dead-letter to the "
            "dead-letter exchange after `HITL_DELIVERY_LIMIT` deliveries. Every message is JSON "
            f"(content_type {CONTENT_TYPE}), published persistent (delivery_mode {PERSISTENT}) "
            "with publisher confirms and mandatory=true.\n\n"
            f"Actions per kind: {actions}. `{names.responses}` carries the answers.\n\n"
            f"{GENERATED}"
        ),
    }


def kind_actions() -> dict[str, tuple[str, ...]]:
    """kind -> the actions a response to it may carry (``cancel`` and ``best_judgement``
    are accepted by every kind)."""
    models = get_args(get_args(InteractionRequest)[0])
    out = {model.model_fields["kind"].default: model.allowed_actions() for model in models}
    return {kind: out[kind] for kind in KIND_NAMES}


def _asyncapi_schema(schema: Any) -> Any:
    """AsyncAPI's Schema Object names the discriminator property with a plain string."""
    if isinstance(schema, list):
        return [_asyncapi_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _asyncapi_schema(value) for key, value in schema.items()}
    discriminator = out.get("discriminator")
    if isinstance(discriminator, dict) and "propertyName" in discriminator:
        out["discriminator"] = discriminator["propertyName"]
    return out
