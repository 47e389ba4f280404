"""The webhook channel against real HTTP servers on loopback: what a receiver gets and can
verify with the standardwebhooks package, keep-alive, every status and every misbehaviour
(hang, close early, close mid-body, garbage), SSRF refusals and DNS rebinding."""

import contextlib
import ipaddress
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import orjson
import pytest
from standardwebhooks import Webhook

from hitl.core.routing.config import WebhookReceiver
from hitl.errors import Permanent, Retryable
from hitl.notifiers.channels.webhook import WebhookChannel
from hitl.notifiers.port import Sent
from hitl.notifiers.secrets import EnvOrFileSecrets
from hitl.notifiers.webhooks.destinations import IPAddress
from hitl_contract import InteractionOutcome, Notification
from tests.webhooks import (
    NEXT_SECRET,
    SECRET,
    Answer,
    RecordingServer,
    close_before_answering,
    cut_mid_body,
    garbage,
    hang,
    notification,
    outcome,
    recording_server,
    status,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Resolver:
    """Answers given addresses for every name, one list per call (the last one repeats)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[IPAddress]:
        self.asked.append(host)
        addresses = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return [ipaddress.ip_address(a) for a in addresses]


ENVIRONMENT = {"HOOK": SECRET, "NEXT": NEXT_SECRET}


@pytest.fixture
async def hooks() -> AsyncIterator[WebhookChannel]:
    channel = WebhookChannel(secrets=EnvOrFileSecrets(ENVIRONMENT))
    yield channel
    await channel.close()


def receiver_of(
    server: RecordingServer, path: str = "/hook", **settings: object
) -> WebhookReceiver:
    return WebhookReceiver.model_validate(
        {
            "type": "webhook",
            "name": "bot",
            "url": server.url + path,
            "secret": {"env": "HOOK"},
            "allow_private": True,  # the test servers are on loopback
            "timeout": "2s",
            **settings,
        }
    )


def verified(server: RecordingServer, index: int = -1, secret: str = SECRET) -> dict[str, object]:
    """A received request's body, verified as a receiver would: by the package itself."""
    request = server.received[index]
    payload: dict[str, object] = Webhook(secret).verify(request.body, request.headers)
    return payload


async def test_a_receiver_gets_the_notification_signed_with_its_headers(
    hooks: WebhookChannel,
) -> None:
    note = notification()
    async with recording_server() as server:
        receiver = receiver_of(server, "/in?team=a", headers={"Authorization": "Bearer t"})
        sent = await hooks.send(receiver, note)
    [request] = server.received
    assert (request.method, request.target) == ("POST", "/in?team=a")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("hitl-webhook/")
    assert request.headers["authorization"] == "Bearer t"
    assert request.headers["host"] == f"127.0.0.1:{server.port}"
    payload = verified(server)
    assert payload["type"] == "interaction.requested"
    assert Notification.model_validate(payload["notification"]) == note
    assert request.headers["webhook-id"] == f"notification:{note.interaction_id}:requested:1"
    assert sent == Sent(reference=request.headers["webhook-id"], detail="HTTP 204")


async def test_a_retry_keeps_its_id_and_is_signed_anew() -> None:
    clock = Clock()
    hooks = WebhookChannel(secrets=EnvOrFileSecrets(ENVIRONMENT), clock=clock)
    note = notification()
    async with recording_server(status(503)) as server:
        receiver = receiver_of(server)
        with pytest.raises(Retryable):
            await hooks.send(receiver, note)
        clock.now += 90
        await hooks.send(receiver, note)
    await hooks.close()
    first, second = server.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert int(second.headers["webhook-timestamp"]) == int(first.headers["webhook-timestamp"]) + 90
    assert first.headers["webhook-signature"] != second.headers["webhook-signature"]


async def test_during_a_rotation_both_secrets_verify(hooks: WebhookChannel) -> None:
    async with recording_server() as server:
        receiver = receiver_of(server, secret=None, secrets=[{"env": "NEXT"}, {"env": "HOOK"}])
        await hooks.send(receiver, notification())
    assert len(server.received[0].headers["webhook-signature"].split(" ")) == 2
    assert verified(server, secret=SECRET) == verified(server, secret=NEXT_SECRET)


async def test_a_secret_file_is_read_when_sending(hooks: WebhookChannel, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    async with recording_server() as server:
        receiver = receiver_of(server, secret={"file": str(secret_file)})
        await hooks.send(receiver, notification())
        secret_file.write_text(NEXT_SECRET)  # rotated on disk: the next send uses it
        await hooks.send(receiver, notification())
    assert verified(server, 0, SECRET) and verified(server, 1, NEXT_SECRET)


async def test_sends_to_one_receiver_share_a_kept_alive_connection(hooks: WebhookChannel) -> None:
    async with recording_server() as server:
        for _ in range(3):
            await hooks.send(receiver_of(server), notification())
    assert [r.connection for r in server.received] == [1, 1, 1]


async def test_cookies_a_receiver_sets_are_never_sent_back(hooks: WebhookChannel) -> None:
    cookie = {"set-cookie": "session=abc; Path=/"}
    async with recording_server(status(200, cookie), status(200, cookie)) as server:
        for _ in range(3):
            await hooks.send(receiver_of(server), notification())
    assert [r.headers.get("cookie") for r in server.received] == [None, None, None]


async def test_a_receivers_headers_are_sent_whatever_their_case(hooks: WebhookChannel) -> None:
    async with recording_server() as server:
        receiver = receiver_of(server, headers={"X-Team": "payments", "authorization": "Bearer t"})
        await hooks.send(receiver, notification())
    [received] = server.received
    assert (received.headers["x-team"], received.headers["authorization"]) == (
        "payments",
        "Bearer t",
    )
    assert verified(server)


async def test_a_settled_interaction_is_posted_as_a_second_signed_event(
    hooks: WebhookChannel,
) -> None:
    note = notification()
    async with recording_server(status(200), status(200), status(502)) as server:
        receiver = receiver_of(server)
        sent = await hooks.send(receiver, note)
        await hooks.update(receiver, sent, outcome(note.interaction_id))
        with pytest.raises(Retryable, match="HTTP 502"):
            await hooks.update(receiver, sent, outcome(note.interaction_id))
    payload = verified(server, 1)
    assert payload["type"] == "interaction.settled"
    assert payload["interaction_id"] == str(note.interaction_id)
    settled = InteractionOutcome.model_validate(payload["outcome"])
    assert settled.decided_by.identity is not None and settled.decided_by.identity.id == "ana"
    assert server.received[1].headers["webhook-id"] == f"outcome:{note.interaction_id}"
    assert server.received[2].headers["webhook-id"] == f"outcome:{note.interaction_id}"


@pytest.mark.parametrize(
    ("answer", "error", "said", "retry_after"),
    [
        (status(503, {"Retry-After": "7"}, b"down for maintenance"), Retryable,
         "HTTP 503: down for maintenance", 7.0),
        (status(429, {"Retry-After": "Thu, 01 Jan 1970 00:00:00 GMT"}), Retryable, "HTTP 429", 0.0),
        (status(408), Retryable, "HTTP 408", None),
        (status(500), Retryable, "HTTP 500", None),
        (status(400, body=b'{"error": "bad"}'), Permanent, 'HTTP 400: {"error": "bad"}', None),
        (status(401), Permanent, "HTTP 401", None),
        (status(302, {"Location": "https://elsewhere.example/hook"}), Permanent,
         r"not followed.*Location: https://elsewhere\.example/hook", None),
    ],
)  # fmt: skip
async def test_statuses(
    hooks: WebhookChannel,
    answer: Answer,
    error: type[Exception],
    said: str,
    retry_after: float | None,
) -> None:
    async with recording_server(answer) as server:
        with pytest.raises(error, match=said) as caught:
            await hooks.send(receiver_of(server), notification())
    assert len(server.received) == 1  # a redirect is not followed
    assert getattr(caught.value, "retry_after", None) == retry_after


async def test_410_gone_disables_the_receiver(hooks: WebhookChannel) -> None:
    async with recording_server(status(410)) as server:
        with pytest.raises(Permanent) as caught:
            await hooks.send(receiver_of(server), notification())
    assert caught.value.disable and caught.value.status == 410


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (hang, "no answer from 127.0.0.1 within 0.3 s"),
        (close_before_answering, "broke off or garbled.*without sending a response"),
        (garbage, "broke off or garbled the HTTP exchange"),
        (cut_mid_body(503), "HTTP 503: 0123456789"),
    ],
    ids=["hangs", "closes before answering", "answers garbage", "closes mid-body"],
)
async def test_a_misbehaving_receiver_is_retried(
    hooks: WebhookChannel, answer: Answer, said: str
) -> None:
    async with recording_server(answer) as server:
        receiver = receiver_of(server, timeout="300ms")
        with pytest.raises(Retryable, match=said):
            await hooks.send(receiver, notification())
        assert (await hooks.send(receiver, notification())).detail == "HTTP 204"  # still usable


async def test_a_success_cut_mid_body_is_delivered_as_its_status_says(
    hooks: WebhookChannel,
) -> None:
    async with recording_server(cut_mid_body(200)) as server:
        assert (await hooks.send(receiver_of(server), notification())).detail == "HTTP 200"


async def test_a_refused_connection_is_retried(hooks: WebhookChannel) -> None:
    async with recording_server() as server:
        receiver = receiver_of(server)
    with pytest.raises(Retryable, match=r"cannot connect to 127\.0\.0\.1"):
        await hooks.send(receiver, notification())


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://127.0.0.1:{port}/hook", "127.0.0.1 is loopback"),
        ("http://[::1]:{port}/hook", "::1 is loopback"),
        ("http://10.20.30.40/hook", "10.20.30.40 is private (RFC 1918)"),
        ("http://169.254.169.254/latest/meta-data/",
         "169.254.169.254 is link-local (the cloud metadata service)"),
        ("http://hooks.example.com:{port}/hook", "hooks.example.com resolves to 127.0.0.1, loopback"),
    ],
)  # fmt: skip
async def test_private_destinations_are_refused_unless_allowed(url: str, rule: str) -> None:
    resolver = Resolver(["127.0.0.1"])
    hooks = WebhookChannel(secrets=EnvOrFileSecrets(ENVIRONMENT), resolver=resolver)
    async with recording_server() as server:
        receiver = receiver_of(server, allow_private=False).model_copy(
            update={"url": url.format(port=server.port)}
        )
        with pytest.raises(
            Permanent, match="^" + re.escape(f"destination refused: {rule}")
        ) as caught:
            await hooks.send(receiver, notification())
        assert "allow_private: true" in str(caught.value)
        assert server.received == []
        if "{port}" in url and "::1" not in url:  # the loopback server itself, once allowed
            allowed = receiver.model_copy(update={"allow_private": True})
            assert (await hooks.send(allowed, notification())).detail == "HTTP 204"
            assert len(server.received) == 1
    await hooks.close()


async def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    """DNS rebinding with real sockets: the name resolves to 127.0.0.2 for the check and to
    127.0.0.1 afterwards. Both addresses have a server on the same port; only the first may
    get the request, and the name is resolved once."""
    resolver = Resolver(["127.0.0.2"], ["127.0.0.1"])
    async with contextlib.AsyncExitStack() as servers:
        checked = await servers.enter_async_context(recording_server(host="127.0.0.2"))
        rebound = await servers.enter_async_context(
            recording_server(host="127.0.0.1", port=checked.port)
        )
        hooks = WebhookChannel(secrets=EnvOrFileSecrets(ENVIRONMENT), resolver=resolver)
        receiver = receiver_of(checked).model_copy(
            update={"url": f"http://hooks.example.com:{checked.port}/hook"}
        )
        await hooks.send(receiver, notification())
        await hooks.close()
    assert resolver.asked == ["hooks.example.com"]
    assert [r.local_address for r in checked.received] == ["127.0.0.2"]
    assert checked.received[0].headers["host"] == f"hooks.example.com:{checked.port}"
    assert rebound.received == []


async def test_the_next_address_is_tried_when_the_first_refuses_the_connection() -> None:
    async with recording_server() as closed:
        port = closed.port  # nothing listens here once closed
    async with recording_server(host="127.0.0.3", port=port) as server:
        resolver = Resolver(["127.0.0.4", "127.0.0.3"])
        hooks = WebhookChannel(secrets=EnvOrFileSecrets(ENVIRONMENT), resolver=resolver)
        receiver = receiver_of(server).model_copy(update={"url": f"http://hooks.test:{port}/"})
        assert (await hooks.send(receiver, notification())).detail == "HTTP 204"
        await hooks.close()
    assert orjson.loads(server.received[0].body)["type"] == "interaction.requested"
