"""Least privilege, without servers: every Redis command hitl's code names is in the ACL's
list, the RabbitMQ regexes cover each role's own names and no other's, who may answer as whom,
the AMQP user-id on the wire, the TLS settings, and ``hitl access``."""

import re
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError
from redis.asyncio import Redis

from hitl.adapters.amqp.wire import pamqp_frames, publish_frames
from hitl.adapters.memory import ManualClock, MemoryDelivery, MemorySink, MemoryStore
from hitl.broker.assembly import Broker
from hitl.cli.main import main
from hitl.core.access import (
    REDIS_COMMANDS,
    permissions,
    redis_acl_setuser,
    redis_key_pattern,
    untrusted_answer,
)
from hitl.observability.metrics import Metrics
from hitl.ports import Envelope
from hitl.settings import Settings
from hitl_contract import ErrorCode, Identity
from hitl_contract.wire import REQUEST_TYPE, RESPONSE_TYPE, Names
from tests.helpers import answer, raw_request
from tests.servers import test_settings

Json = dict[str, Any]

SERVICES = Path(__file__).parents[2] / "services" / "hitl"
# Where hitl talks to Redis: the scripts, and every module that names redis.
LUA = sorted((SERVICES / "adapters" / "redis" / "lua").glob("*.lua"))
PYTHON = [p for p in sorted(SERVICES.rglob("*.py")) if "redis" in p.read_text()]
# Admin-only (hitl's teardown of a test namespace), not run by the services.
ADMIN = {SERVICES / "adapters" / "redis" / "purge.py"}
# redis-py method -> the command it sends, where they differ
_METHODS = {"delete": "del", "script_load": "script|load"}
_NOT_COMMANDS = {"pipeline", "execute", "aclose", "close", "from_pool", "register_script"}


def commands_in_code() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in LUA:
        text = path.read_text()
        for command in re.findall(r"redis\.p?call\(\s*['\"](\w+)['\"]", text):
            found.setdefault(command.lower(), set()).add(path.name)
    for path in PYTHON:
        if path in ADMIN:
            continue
        text = path.read_text()
        for command in re.findall(r"\(\s*\"([A-Z]{3,})\"\s*,", text):  # raw ("EVALSHA", ...)
            if callable(getattr(Redis, command.lower(), None)):  # a command, not other text
                found.setdefault(command.lower(), set()).add(path.name)
        for method in re.findall(r"(?:redis|pipe|_redis|client)\.(\w+)\(", text):
            if method in _NOT_COMMANDS or not callable(getattr(Redis, method, None)):
                continue
            found.setdefault(_METHODS.get(method, method), set()).add(path.name)
    return found


def test_every_redis_command_the_code_names_is_in_the_acl() -> None:
    found = commands_in_code()
    assert {"evalsha", "hset", "zadd", "hmget", "info"} <= found.keys()  # the scan works
    missing = {c: sorted(w) for c, w in found.items() if c not in REDIS_COMMANDS}
    assert not missing, f"add these to hitl.core.access.REDIS_COMMANDS: {missing}"


def test_the_acl_command_keeps_to_the_namespace() -> None:
    rule = redis_acl_setuser("hitl", ">secret", "prod")
    assert rule[:6] == ["ACL", "SETUSER", "hitl", "reset", "on", ">secret"]
    assert "~prod:*" in rule and "-@all" in rule and "+flushall" not in rule
    assert redis_key_pattern("a*b") == r"a\*b:*"


NAMES = Names("my.ns")
TOUCHED = {
    "broker": ["my.ns.notifications", "my.ns.broker.requests", "my.ns.store-log", "amq.default"],
    "producer": ["my.ns.requests", "my.ns.reply.billing", "my.ns.reply.billing.pod-1"],
    "notifier": ["my.ns.responses", "my.ns.notifier.team-bot", "amq.gen-x1", "my.ns.dlx"],
    "gateway": ["my.ns.requests", "my.ns.responses", "my.ns.gateway.receipts.h.1.ab"],
}


def _may_write(role: str, name: str, **options: str | bool) -> bool:
    perms = permissions(role, NAMES, **options)  # type: ignore[arg-type]
    return re.fullmatch(perms.write, name) is not None


@pytest.mark.parametrize("role", sorted(TOUCHED))
def test_each_role_may_write_its_own_names(role: str) -> None:
    options = {"service": "billing"} if role == "producer" else {}
    for name in TOUCHED[role]:
        assert _may_write(role, name, **options), (role, name)


def test_no_role_but_the_broker_writes_outcomes_or_events_and_names_are_literal() -> None:
    for role in ("producer", "notifier", "gateway"):
        options = {"service": "billing"} if role == "producer" else {}
        assert not _may_write(role, "my.ns.outcomes", **options)
        assert not _may_write(role, "my.ns.events", **options)
    assert not _may_write("producer", "my.ns.responses", service="billing")
    assert _may_write("producer", "my.ns.responses", service="billing", cancel=True)
    assert not _may_write("producer", "myXns.requests", service="billing")  # '.' is a dot
    assert not _may_write("producer", "my.ns.reply.billing2", service="billing")
    producer = permissions("producer", NAMES, service="billing")
    assert producer.topics == (("my.ns.outcomes", "^$", r"^billing(\..+)?$"),)
    for role in ("producer", "notifier", "gateway"):  # only the broker declares the shared
        perms = permissions(role, NAMES, service="billing")  # type: ignore[arg-type]
        assert not re.fullmatch(perms.configure, "my.ns.responses")
        assert not re.fullmatch(perms.configure, "my.ns.broker.requests")


def test_a_listed_service_answers_as_anyone_others_only_as_themselves() -> None:
    trusted = frozenset({"hitl-gateway"})
    alice = Identity(id="alice@example.com")
    assert untrusted_answer("hitl-gateway", alice, trusted) is None
    refused = untrusted_answer("billing", alice, trusted)
    assert refused is not None and refused.code == ErrorCode.NOT_ALLOWED
    assert refused.path == "user_id" and refused.got == "billing"
    assert refused.allowed == ["hitl-gateway"]
    itself = Identity(id="billing", service="billing")
    assert untrusted_answer("billing", itself, trusted) is None
    assert untrusted_answer(None, itself, trusted) is not None
    assert untrusted_answer("other", itself, trusted) is not None


def test_an_answer_carries_its_user_id_on_the_wire() -> None:
    envelope = Envelope("ns.responses", "iid", b"{}", "hitl.response", "r1", "r1", user_id="gw")
    frames = publish_frames(1, envelope, True, 131_064)
    assert frames == pamqp_frames(1, envelope, True, 131_064)
    assert b"\x02gw" in frames  # the user-id property, a short string


def test_tls_files_need_a_tls_url_and_a_certificate_its_key() -> None:
    with pytest.raises(ValidationError, match="amqp_ca_file is set but amqp_url is not amqps"):
        Settings(amqp_ca_file="/ca.pem")
    with pytest.raises(ValidationError, match="redis_cert_file and redis_key_file go together"):
        Settings(redis_url="rediss://h:6380/0", redis_cert_file="/c.pem")
    Settings(amqp_url="amqps://u:p@h:5671/", amqp_ca_file="/ca.pem", trusted_answer_services=[])


def test_hitl_access_prints_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["access", "rabbitmq", "producer", "--service", "billing", "--vhost", "v"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("rabbitmqctl set_permissions -p 'v' 'billing' '^(hitl")
    assert out[1].startswith("rabbitmqctl set_topic_permissions -p 'v' 'billing' 'hitl.outcomes'")
    with pytest.raises(SystemExit, match="2"):  # a producer needs --service
        main(["access", "rabbitmq", "producer"])
    assert main(["access", "redis", "--namespace", "prod"]) == 0
    assert capsys.readouterr().out.startswith("ACL SETUSER hitl reset on >PASSWORD ~prod:* ")


async def test_the_broker_takes_a_persons_word_only_from_a_trusted_service() -> None:
    """On the in-memory twins: an answer for a person from an unlisted AMQP user is refused
    (receipt, dead letter, rejected event) and the interaction waits; a listed one decides."""
    clock = ManualClock()
    settings = test_settings(
        f"twin-{uuid.uuid4().hex[:8]}", events_linger_seconds=0.0, trusted_answer_services=["gw"]
    )
    sink = MemorySink()
    broker = Broker.assemble(
        settings,
        store=MemoryStore(shards=settings.shards, clock=clock),
        sink=sink,
        clock=clock,
        metrics=Metrics(),
    )
    names = broker.names
    body = raw_request()
    data = orjson.dumps(body)
    await broker.handlers.on_request(
        MemoryDelivery(data, names.requests, "approval", REQUEST_TYPE, body["id"], body["id"])
    )
    iid = uuid.UUID(body["id"])

    async def answer_as(user_id: str) -> Json:
        response = answer(iid, "approve")
        key = str(response.response_id)
        await broker.handlers.on_response(
            MemoryDelivery(
                response.model_dump_json().encode(), names.responses, body["id"],
                RESPONSE_TYPE, key, key, "receipts", user_id=user_id,
            )
        )  # fmt: skip
        [receipt] = [e for e in sink.on("", "receipts") if e.correlation_id == key]
        return orjson.loads(receipt.body)  # type: ignore[no-any-return]

    refused = await answer_as("billing")
    assert refused["result"] == "rejected" and refused["error"]["code"] == "not_allowed"
    assert refused["error"]["path"] == "user_id" and refused["error"]["allowed"] == ["gw"]
    [parked] = sink.on(names.dead_letter, "responses")
    assert parked.headers["x-hitl-error-code"] == "not_allowed"
    state = await broker.store.load(iid)
    assert state is not None and state.status == "pending"
    assert (await answer_as("gw"))["result"] == "accepted"
    await broker.send_lingering_events()


def test_a_wrong_url_is_refused_naming_the_setting_without_its_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValidationError, match="not a URL starting amqp:// or amqps://"):
        Settings(amqp_url="http://user:secret@rabbit/")
    with pytest.raises(ValidationError, match="not a URL starting redis://"):
        Settings(redis_url="127.0.0.1:6379")
    Settings(redis_url="unix:///run/redis.sock")
    monkeypatch.setenv("HITL_AMQP_URL", "user:secret@rabbit:5672")  # no scheme at all
    assert main(["pending"]) == 2
    said = capsys.readouterr().err
    assert said.startswith("hitl: invalid settings: HITL_AMQP_URL='***@rabbit:5672' is not valid")
    assert "secret" not in said
