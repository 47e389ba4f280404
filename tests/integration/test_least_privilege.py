"""Least privilege on the real RabbitMQ: a vhost of this module's own, one user per role with
exactly the permissions ``hitl access rabbitmq`` prints (``hitl.core.access``), and the
services run under them. What a role may not do is refused by RabbitMQ (ACCESS_REFUSED, 403),
answers carry the AMQP user-id RabbitMQ checked, and the broker takes a person's word only from
the services in ``trusted_answer_services``. The vhost and users are deleted after; the guest
user and the ``/`` vhost are never touched."""

import asyncio
import secrets
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection
from redis.asyncio import Redis

from hitl.adapters.amqp.topology import declare_notifier_queue
from hitl.adapters.redis.apikeys import RedisApiKeys
from hitl.adapters.redis.keys import Keys
from hitl.broker.service import BrokerService
from hitl.cli.backends.direct import DirectBackend
from hitl.cli.backends.port import EventFilter
from hitl.core.access import Role, permissions, rabbitmqctl_lines, redis_acl_setuser
from hitl.core.apikeys import mint
from hitl.errors import ConfigError
from hitl.gateway.service import GatewayService
from hitl.notifiers.channels.webhook import WebhookChannel
from hitl.notifiers.service import NotifierService
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from hitl_contract import Identity, ReceiptResult
from hitl_contract.wire import RESPONSE_TYPE, Names
from tests.helpers import answer, dead_letters, eventually
from tests.servers import REDIS_URL, test_settings
from tests.webhooks import SECRET, RecordingServer, status

pytestmark = pytest.mark.slow
_RUN = uuid.uuid4().hex[:8]


def ctl(*args: str) -> str:
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"rabbitmqctl {' '.join(args)}: {done.stderr or done.stdout}"
    return done.stdout


@dataclass(frozen=True)
class Vhost:
    name: str
    namespace: str
    users: dict[str, str]  # role (or admin, canceller) -> user name; password = user name

    def url(self, who: str, password: str | None = None) -> str:
        user = self.users[who]
        return f"amqp://{user}:{password or user}@127.0.0.1:5672/{quote(self.name, safe='')}"

    def settings(self, who: str, **overrides: Any) -> Settings:
        return test_settings(self.namespace, amqp_url=self.url(who), **overrides)


@pytest.fixture(scope="module")
def vhost() -> Iterator[Vhost]:
    name, namespace = f"hitl-lp-{_RUN}", f"lp-{_RUN}"
    names = Names(namespace)
    users = {who: f"{who}-{_RUN}" for who in ("admin", "broker", "notifier", "gateway")}
    users["producer"] = f"billing-{_RUN}"  # a producer's user is its service name
    users["canceller"] = f"canceller-{_RUN}"
    ctl("add_vhost", name)
    try:
        for user in users.values():
            ctl("add_user", user, user)
        ctl("set_permissions", "-p", name, users["admin"], ".*", ".*", ".*")
        grants: dict[str, tuple[Role, dict[str, Any]]] = {
            "broker": ("broker", {}),
            "notifier": ("notifier", {}),
            "gateway": ("gateway", {}),
            "producer": ("producer", {"service": users["producer"]}),
            "canceller": ("producer", {"service": users["canceller"], "cancel": True}),
        }
        for who, (role, options) in grants.items():
            for line in rabbitmqctl_lines(users[who], name, permissions(role, names, **options)):
                ctl(*_split(line))
        yield Vhost(name, namespace, users)
    finally:
        for user in users.values():
            subprocess.run(["rabbitmqctl", "-q", "delete_user", user], capture_output=True)
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True)
        asyncio.run(_purge_keys(namespace))


def _split(line: str) -> list[str]:
    """A printed rabbitmqctl line back into its arguments (single-quoted, no quote inside)."""
    head, *quoted = line.removeprefix("rabbitmqctl ").split(" '")
    args = head.split()
    for part in quoted:
        text, _, rest = part.partition("'")
        args.append(text)
        args += rest.split()
    return args


async def _purge_keys(namespace: str) -> None:
    from hitl.adapters.redis.purge import purge_namespace

    client: Redis = Redis.from_url(REDIS_URL)
    try:
        await purge_namespace(client, namespace)
    finally:
        await client.aclose()


@pytest.fixture
async def role_broker(vhost: Vhost) -> AsyncIterator[BrokerService]:
    trusted = [vhost.users["gateway"], vhost.users["notifier"]]
    service = BrokerService(vhost.settings("broker", trusted_answer_services=trusted))
    await service.start()
    yield service
    await service.stop()


@pytest.fixture
async def admin(vhost: Vhost) -> AsyncIterator[AbstractRobustConnection]:
    connection = await aio_pika.connect_robust(vhost.url("admin"))
    yield connection
    await connection.close()


async def refused(url: str, exchange: str, **properties: Any) -> str:
    """Publish one message on ``exchange`` as the URL's user; what RabbitMQ closed with."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        target = await channel.get_exchange(exchange, ensure=False)
        with pytest.raises(aio_pika.exceptions.ChannelClosed) as caught:
            await target.publish(aio_pika.Message(b"{}", **properties), "x")  # until confirmed
        return str(caught.value.args[0])
    finally:
        await connection.close()


async def test_a_producer_publishing_on_the_responses_exchange_is_refused(
    vhost: Vhost, role_broker: BrokerService
) -> None:
    names = role_broker.names
    said = await refused(vhost.url("producer"), names.responses)
    assert said.startswith("ACCESS_REFUSED") and f"exchange '{names.responses}'" in said
    assert vhost.users["producer"] in said
    # nor may it declare the shared topology, nor listen to another producer's outcomes
    connection = await aio_pika.connect(vhost.url("producer"))
    try:
        channel = await connection.channel()
        with pytest.raises(aio_pika.exceptions.ChannelClosed, match="ACCESS_REFUSED"):
            await channel.declare_exchange(names.responses, aio_pika.ExchangeType.TOPIC)
        channel = await connection.channel()
        mine = await channel.declare_queue(
            names.reply_queue(vhost.users["producer"]) + ".spy", exclusive=True
        )
        with pytest.raises(aio_pika.exceptions.ChannelClosed, match="ACCESS_REFUSED"):
            await mine.bind(names.outcomes, "someone-else")
    finally:
        await connection.close()


async def test_a_notifier_may_not_publish_requests_nor_a_gateway_notifications(
    vhost: Vhost, role_broker: BrokerService
) -> None:
    names = role_broker.names
    said = await refused(vhost.url("notifier"), names.requests)
    assert said.startswith("ACCESS_REFUSED") and names.requests in said
    said = await refused(vhost.url("gateway"), names.notifications)
    assert said.startswith("ACCESS_REFUSED") and names.notifications in said
    said = await refused(vhost.url("producer"), names.outcomes)
    assert said.startswith("ACCESS_REFUSED") and names.outcomes in said


async def test_a_user_id_that_is_not_the_connections_is_refused_by_rabbitmq(
    vhost: Vhost, role_broker: BrokerService
) -> None:
    said = await refused(
        vhost.url("notifier"), role_broker.names.responses, user_id=vhost.users["gateway"]
    )
    assert said.startswith("PRECONDITION_FAILED") and "user_id property" in said


async def test_ask_and_answer_with_a_user_per_role(
    vhost: Vhost, role_broker: BrokerService, admin: AbstractRobustConnection, redis: Redis
) -> None:
    """Producer asks -> broker -> a notifier bot reads its receiver's queue and answers; a
    second ask is answered over HTTP through the gateway; each under its own user."""
    names = Names(vhost.namespace)
    notifier = await aio_pika.connect_robust(vhost.url("notifier"))
    gateway = GatewayService(vhost.settings("gateway", gateway_port=0))
    try:
        channel = await notifier.channel()
        s = role_broker.settings
        queue = await declare_notifier_queue(
            channel, names, "default", s.queue_type, s.delivery_limit
        )
        bot = await Responder.attach(notifier, namespace=vhost.namespace)
        async with HitlClient.connect(
            vhost.url("producer"), service=vhost.users["producer"], namespace=vhost.namespace
        ) as client:
            request = client.new_request("approval", thread_id="lp-1", prompt="Pay 10 EUR?")
            asked = asyncio.create_task(client.ask(request, timeout=20))
            note = await _next(queue)
            assert note.routing_key == "default.approval"
            receipt = await bot.respond(answer(request.id, "approve", who="dana@example.com"))
            assert receipt is not None and receipt.result == ReceiptResult.ACCEPTED
            outcome = await asked
            assert outcome.action == "approve" and outcome.decided_by.identity is not None
            assert outcome.decided_by.identity.id == "dana@example.com"

            await gateway.start()
            token, record = mint(Identity(id="erin@example.com"), ("respond",), time.time())
            await RedisApiKeys(redis, Keys(vhost.namespace, s.shards)).add(record)
            second = client.new_request("approval", thread_id="lp-2", prompt="Pay 20 EUR?")
            asked = asyncio.create_task(client.ask(second, timeout=20))
            await _next(queue)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{gateway.port}",
                headers={"Authorization": f"Bearer {token}"},
            ) as http:
                reply = await http.post(
                    f"/v1/interactions/{second.id}/responses", json={"action": "reject"}
                )
            assert reply.status_code == 200, reply.text
            outcome = await asked
            assert outcome.action == "reject" and outcome.decided_by.identity is not None
            assert outcome.decided_by.identity.id == "erin@example.com"
    finally:
        await gateway.stop()
        await notifier.close()


async def _next(queue: Any) -> aio_pika.abc.AbstractIncomingMessage:
    for _ in range(200):
        message = await queue.get(no_ack=True, fail=False)
        if message is not None:
            return message  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing arrived on {queue.name}")


async def test_only_trusted_services_may_answer_for_a_person(
    vhost: Vhost, role_broker: BrokerService, admin: AbstractRobustConnection
) -> None:
    """A producer with cancel rights (write on responses) cannot answer as a person: the
    broker refuses it (parked in the dead-letter queue with why) and the interaction stays
    pending; it may still cancel its own request, as itself."""
    names = role_broker.names
    canceller = vhost.users["canceller"]
    async with HitlClient.connect(
        vhost.url("canceller"), service=canceller, namespace=vhost.namespace
    ) as client:
        request = client.new_request("approval", thread_id="lp-3", prompt="Deploy?")
        asked = asyncio.create_task(client.ask(request, timeout=20))
        connection = await aio_pika.connect(vhost.url("canceller"))
        try:  # an answer as a person, published as the SDK's Responder does
            channel = await connection.channel(publisher_confirms=True)
            responses = await channel.get_exchange(names.responses, ensure=False)
            forged = answer(request.id, "approve", who="ceo@example.com")
            await responses.publish(
                aio_pika.Message(
                    forged.model_dump_json().encode(), type=RESPONSE_TYPE, user_id=canceller
                ),
                str(request.id),
            )
        finally:
            await connection.close()
        [dead] = await dead_letters(admin, vhost.namespace, 1)
        assert dead.headers["x-hitl-error-code"] == "not_allowed"
        assert dead.headers["x-hitl-error-path"] == "user_id"
        assert dead.headers["x-hitl-error-got"] == f'"{canceller}"'  # who published it
        assert dead.type == RESPONSE_TYPE
        assert role_broker.store is not None
        state = await role_broker.store.load(request.id)
        assert state is not None and state.status == "pending"

        await client.cancel(request.id, reason="not needed")
        outcome = await asked
    assert outcome.status == "cancelled" and outcome.decided_by.identity is not None
    assert outcome.decided_by.identity.id == canceller


async def test_a_missing_permission_fails_the_start_naming_the_setting(vhost: Vhost) -> None:
    broker = BrokerService(vhost.settings("producer"))  # a producer's user for a broker
    with pytest.raises(ConfigError) as caught:
        await broker.start()
    said = str(caught.value)
    assert said.startswith("HITL_AMQP_URL: RabbitMQ refused to declare exchange")
    assert f"refused for user '{vhost.users['producer']}'" in said
    assert f"vhost '{vhost.name}'" in said and "hitl access rabbitmq" in said


async def test_a_wrong_password_fails_the_start_at_once_naming_the_setting(
    vhost: Vhost,
) -> None:
    settings = test_settings(
        vhost.namespace, amqp_url=vhost.url("broker", password="wrong"), startup_attempts=30
    )
    broker = BrokerService(settings)
    with pytest.raises(ConfigError, match=r"^HITL_AMQP_URL: RabbitMQ at amqp://broker-\w+:\*\*\*@"):
        await broker.start()  # at once: 30 tries would take minutes


async def test_a_vhost_the_user_may_not_open_fails_the_start_naming_the_setting(
    vhost: Vhost,
) -> None:
    url = vhost.url("broker").rsplit("/", 1)[0] + "/no-such-vhost"
    broker = BrokerService(test_settings(vhost.namespace, amqp_url=url, startup_attempts=30))
    with pytest.raises(ConfigError, match=r"^HITL_AMQP_URL: .*the vhost does not exist"):
        await broker.start()


async def test_a_webhook_notifier_and_a_broker_run_under_their_users_and_the_redis_acl(
    vhost: Vhost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis: Redis
) -> None:
    """``hitl notifier webhook`` under the notifier's user (its receiver's queue, the settled
    events, its delivery log) beside a broker under its own, both on the Redis ACL user of
    ``hitl access redis``: a receiver gets the request and then the outcome."""
    monkeypatch.setenv("HITL_TEST_HOOK_SECRET", SECRET)
    user, password = f"hitl-lp-{_RUN}", secrets.token_hex(16)
    await redis.execute_command(*redis_acl_setuser(user, f">{password}", vhost.namespace))
    ops = RecordingServer(default=status(204))
    await ops.start()
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        "receivers:\n"
        f"  - {{name: ops, type: webhook, url: '{ops.url}', allow_private: true,"
        " secret: {env: HITL_TEST_HOOK_SECRET}}\n"
        "route:\n  receivers: [ops]\n"
    )
    common = {
        "routing_file": str(routing),
        "redis_url": REDIS_URL.replace("redis://", f"redis://{user}:{password}@", 1),
    }
    broker = BrokerService(vhost.settings("broker", **common))
    notifier = NotifierService(vhost.settings("notifier", **common), WebhookChannel())
    try:
        await broker.start()
        await notifier.start()
        async with (
            HitlClient.connect(
                vhost.url("producer"), service=vhost.users["producer"], namespace=vhost.namespace
            ) as client,
            Responder.connect(vhost.url("notifier"), namespace=vhost.namespace) as bot,
        ):
            request = client.new_request("approval", thread_id="lp-4", prompt="Hooked?")
            asked = asyncio.create_task(client.ask(request, timeout=20))
            await eventually(lambda: len(ops.received) == 1)
            await bot.respond(answer(request.id, "approve"))
            assert (await asked).action == "approve"
            await eventually(lambda: len(ops.received) == 2)  # the settled update
        assert not await notifier.host.not_ready() and not await broker.not_ready()
    finally:
        await notifier.stop()
        await broker.stop()
        await ops.close()
        await redis.execute_command("ACL", "DELUSER", user)


async def test_a_producer_before_any_broker_is_told_to_start_the_broker(vhost: Vhost) -> None:
    """Its user may not declare the shared topology: the error says who does."""
    with pytest.raises(ConfigError) as caught:
        async with HitlClient.connect(
            vhost.url("producer"), service=vhost.users["producer"], namespace="never-started"
        ):
            pass
    said = str(caught.value)
    assert said.startswith("HITL_AMQP_URL: RabbitMQ refused to declare exchange never-started.")
    assert "start `hitl broker` once for namespace 'never-started'" in said


async def test_a_person_at_the_cli_watches_and_answers_under_the_notifier_user(
    vhost: Vhost, role_broker: BrokerService
) -> None:
    """``hitl watch`` and ``hitl resume`` straight on the servers (the console's backend) need
    no more than a notifier's permissions; the answer is the notifier user's (trusted)."""
    ready = asyncio.Event()
    async with (
        DirectBackend(vhost.settings("notifier"), Identity(id="fay@example.com")) as cli,
        HitlClient.connect(
            vhost.url("producer"), service=vhost.users["producer"], namespace=vhost.namespace
        ) as client,
    ):
        events = cli.events(EventFilter(thread_id="lp-5"), ready.set)
        first = asyncio.create_task(anext(events))
        await asyncio.wait_for(ready.wait(), 10)
        request = client.new_request("approval", thread_id="lp-5", prompt="At the desk?")
        asked = asyncio.create_task(client.ask(request, timeout=20))
        assert (await asyncio.wait_for(first, 10)).event == "requested"
        for _ in range(200):
            if await (await cli.reads()).load(request.id) is not None:
                break
            await asyncio.sleep(0.05)
        result = await cli.answer(request.id, "approve", {})
        assert result.result == "accepted"
        outcome = await asked
        await events.aclose()
    assert outcome.decided_by.identity is not None
    assert outcome.decided_by.identity.id == "fay@example.com"
