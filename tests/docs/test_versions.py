"""The ``schema_version`` policy of docs/contract.md ("Versions"), held.

Each version the broker reads has a frozen corpus here (tests/docs/contract_versions/v<N>.json:
a request of every kind from docs/kinds.md and their answers, as that version published them).
The broker must keep taking every message of every version it reads, so a change that would
break a producer written against a readable version fails here before it ships; a version it
does not read is refused with the ones it does.
"""

import json
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from hitl.broker.service import BrokerService
from hitl.core.decoding import decode_request, decode_response
from hitl.errors import InvalidMessage
from hitl_contract import READ_SCHEMA_VERSIONS, SCHEMA_VERSION, ErrorCode
from hitl_contract.wire import REQUEST_TYPE
from tests.helpers import eventually, publish_raw
from tests.wire_check import validator

CORPORA = Path(__file__).parent / "contract_versions"
LIMIT = 10 * 1024 * 1024


def corpus(version: int) -> dict[str, Any]:
    return json.loads((CORPORA / f"v{version}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.mark.parametrize("version", READ_SCHEMA_VERSIONS)
def test_the_broker_reads_every_message_of_every_version_it_reads(version: int) -> None:
    messages = corpus(version)
    assert messages["version"] == version
    assert len(messages["requests"]) >= 11 and messages["responses"]
    for body in messages["requests"]:
        decode_request(orjson.dumps(body), LIMIT)
    for body in messages["responses"]:
        decode_response(orjson.dumps(body), LIMIT)


def test_every_corpus_is_of_a_version_the_broker_reads() -> None:
    """A version dropped from READ_SCHEMA_VERSIONS takes its corpus with it, deliberately."""
    versions = {int(path.stem.removeprefix("v")) for path in CORPORA.glob("v*.json")}
    assert versions == set(READ_SCHEMA_VERSIONS)
    assert SCHEMA_VERSION in versions


def test_the_current_corpus_fits_the_published_schemas() -> None:
    messages = corpus(SCHEMA_VERSION)
    for name, key in (("interaction-request", "requests"), ("human-response", "responses")):
        for body in messages[key]:
            assert validator(name).is_valid(body), body


@pytest.mark.parametrize("version", [0, max(READ_SCHEMA_VERSIONS) + 1])
def test_a_version_the_broker_does_not_read_is_refused_with_those_it_does(version: int) -> None:
    body = {**corpus(SCHEMA_VERSION)["requests"][0], "schema_version": version}
    with pytest.raises(InvalidMessage) as refused:
        decode_request(orjson.dumps(body), LIMIT)
    detail = refused.value.detail
    assert (detail.code, detail.path, detail.allowed) == (
        ErrorCode.UNSUPPORTED_SCHEMA_VERSION,
        "schema_version",
        list(READ_SCHEMA_VERSIONS),
    )


@pytest.mark.parametrize("version", READ_SCHEMA_VERSIONS)
async def test_a_running_broker_takes_every_request_of_every_version_it_reads(
    version: int, broker: BrokerService, amqp: Any
) -> None:
    requests = [
        {**body, "id": str(uuid.uuid4())} for body in corpus(version)["requests"]
    ]  # fresh ids: the corpus is replayed by every run
    for body in requests:
        await publish_raw(
            amqp, broker.names.requests, orjson.dumps(body), body["kind"], type=REQUEST_TYPE
        )
    assert broker.store is not None
    store = broker.store

    async def all_stored() -> bool:
        return all([await store.load(uuid.UUID(b["id"])) for b in requests])

    await eventually(all_stored)
    registry = broker.metrics.registry
    refused = [
        registry.get_sample_value(
            "hitl_dead_lettered_total", {"source": "requests", "code": code.value}
        )
        for code in ErrorCode
    ]
    assert sum(n or 0 for n in refused) == 0
