"""The webhook channel with its HTTP side replaced by httpx's MockTransport: where a request is
sent (the checked address, with the name for Host and SNI), DNS rebinding, and secrets that
cannot be used. Real servers: tests/integration/test_webhook_channel.py."""

import ipaddress
from collections.abc import Sequence

import httpx
import pytest

from hitl.core.routing.config import EmailReceiver, SecretRef, WebhookReceiver
from hitl.errors import Permanent
from hitl.notifiers.channels.webhook import WebhookChannel
from hitl.notifiers.secrets import EnvOrFileSecrets
from hitl.notifiers.webhooks.clients import HostClients
from hitl.notifiers.webhooks.destinations import IPAddress
from tests.webhooks import SECRET, notification

PUBLIC = "93.184.215.14"


class Rebinding:
    """A resolver that gives the public address the first time, loopback after."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, host: str, port: int) -> Sequence[IPAddress]:
        self.calls += 1
        return [ipaddress.ip_address(PUBLIC if self.calls == 1 else "127.0.0.1")]


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def clients(self) -> HostClients:
        transport = httpx.MockTransport(self.answer)
        return HostClients(lambda: httpx.AsyncClient(transport=transport))

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(202)


def webhook(url: str, **settings: object) -> WebhookReceiver:
    return WebhookReceiver.model_validate(
        {"type": "webhook", "name": "bot", "url": url, "secret": {"env": "HOOK"}, **settings}
    )


def channel(recorder: Recorder, resolver: Rebinding) -> WebhookChannel:
    secrets = EnvOrFileSecrets({"HOOK": SECRET})
    return WebhookChannel(secrets=secrets, resolver=resolver, clients=recorder.clients())


async def test_the_request_goes_to_the_checked_address_and_rebinding_is_refused() -> None:
    recorder, resolver = Recorder(), Rebinding()
    hooks = channel(recorder, resolver)
    receiver = webhook("https://hooks.example.com:8443/in?team=a")

    sent = await hooks.send(receiver, notification())
    assert sent.detail == "HTTP 202"
    [request] = recorder.requests
    assert resolver.calls == 1  # the name was resolved once, for the check
    assert request.url.host == PUBLIC  # and the request went to what was checked
    assert (request.url.port, request.url.raw_path) == (8443, b"/in?team=a")
    assert request.headers["host"] == "hooks.example.com:8443"
    assert request.extensions["sni_hostname"] == "hooks.example.com"  # TLS checks the name

    with pytest.raises(Permanent, match=r"hooks\.example\.com resolves to 127\.0\.0\.1, loopback"):
        await hooks.send(receiver, notification())
    assert len(recorder.requests) == 1
    await hooks.close()


async def test_a_url_holding_an_address_is_sent_as_it_is() -> None:
    recorder, resolver = Recorder(), Rebinding()
    hooks = channel(recorder, resolver)
    await hooks.send(webhook(f"http://{PUBLIC}/in"), notification())
    [request] = recorder.requests
    assert str(request.url) == f"http://{PUBLIC}/in"
    assert request.headers["host"] == PUBLIC and "sni_hostname" not in request.extensions
    assert resolver.calls == 0
    await hooks.close()


async def test_an_unusable_secret_is_permanent_and_never_quoted() -> None:
    recorder = Recorder()
    hooks = WebhookChannel(
        secrets=EnvOrFileSecrets({"BAD": "whsec_!!not-base64!!"}),
        resolver=Rebinding(),
        clients=recorder.clients(),
    )
    with pytest.raises(Permanent, match="receiver bot: secret environment variable HOOK is unset"):
        await hooks.send(webhook("https://hooks.example.com/"), notification())
    bad = webhook("https://hooks.example.com/", secret=None, secrets=[SecretRef(env="BAD")])
    with pytest.raises(Permanent, match="receiver bot: signing secret 1 is not") as caught:
        await hooks.send(bad, notification())
    assert "not-base64" not in str(caught.value)
    assert recorder.requests == []
    await hooks.close()


async def test_an_unsigned_receiver_still_gets_an_id_and_a_timestamp() -> None:
    recorder = Recorder()
    hooks = WebhookChannel(resolver=Rebinding(), clients=recorder.clients(), clock=lambda: 1e9)
    await hooks.send(webhook("https://hooks.example.com/", secret=None), notification())
    [request] = recorder.requests
    assert request.headers["webhook-timestamp"] == "1000000000"
    assert request.headers["webhook-id"].startswith("notification:")
    assert "webhook-signature" not in request.headers
    await hooks.close()


async def test_a_receiver_of_another_type_is_a_bug_not_a_delivery_failure() -> None:
    hooks = WebhookChannel(resolver=Rebinding(), clients=Recorder().clients())
    email = EmailReceiver(type="email", name="mail", to=["a@example.com"])
    with pytest.raises(TypeError, match="mail is a email receiver"):
        await hooks.send(email, notification())
    await hooks.close()
