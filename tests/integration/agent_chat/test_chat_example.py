"""examples/chat: seed 004's chat over a real broker process, RabbitMQ and Redis, driven over
HTTP (httpx's ASGI transport): new messages blocked while the thread's form is pending, form
errors shown in the chat, and the conversation going on after a submit, "use your best
judgement" and a cancel; and a form answered elsewhere (the CLI's way) continuing it too."""

import string
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from examples.chat.app import MESSAGES, Chat, create_app, open_chat

from hitl.errors import TransportError
from hitl.sdk import Responder
from hitl.settings import Settings
from tests.faults.test_broker_processes import BrokerProcess
from tests.helpers import answer, eventually
from tests.served import serve

PENDING = "Please submit the form above before sending more messages."
THREAD = "chat-thread-1"


@pytest.fixture
async def chat(settings: Settings, broker_process: BrokerProcess) -> AsyncIterator[Chat]:
    async with open_chat(settings, service="producer") as chat:
        yield chat


@pytest.fixture
async def http(chat: Chat) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(chat))
    async with httpx.AsyncClient(transport=transport, base_url="http://chat") as client:
        yield client


async def ask_form(http: httpx.AsyncClient, **headers: str) -> str:
    """The person asks to register a service; the agent answers with a form (its id)."""
    got = await http.post(
        f"/threads/{THREAD}/messages", json={"text": "Please register a service"}, headers=headers
    )
    assert got.status_code == 200, got.text
    user, form = got.json()["messages"]
    assert user == {"role": "user", "text": "Please register a service"}
    assert form["role"] == "form"
    assert [f["name"] for f in form["fields"]] == ["service", "replicas", "tier"]
    return str(form["interaction_id"])


async def act(
    http: httpx.AsyncClient, kind: str, payload: dict[str, Any] | None = None
) -> httpx.Response:
    return await http.post(
        f"/threads/{THREAD}/actions",
        json={"type": kind, "payload": payload or {}},
        headers={"X-Chat-User": "ana@example.com"},
    )


async def test_a_pending_form_blocks_the_thread_shows_errors_and_a_submit_continues(
    http: httpx.AsyncClient, chat: Chat
) -> None:
    form = await ask_form(http)

    blocked = await http.post(f"/threads/{THREAD}/messages", json={"text": "hello?"})
    assert blocked.status_code == 409
    assert blocked.json() == {"code": "pending_interaction", "message": PENDING, "pending": [form]}
    other_thread = await http.post("/threads/another/messages", json={"text": "hello"})
    assert other_thread.status_code == 200  # only the form's thread waits

    refused = await act(http, "human.form_submit", {"replicas": 50, "tier": "bronze"})
    assert refused.status_code == 422
    errors = {e["field"] for e in refused.json()["errors"]}
    assert errors == {"service", "replicas", "tier"}
    shown = (await http.get(f"/threads/{THREAD}/messages")).json()
    assert shown["pending"] == [form]  # still waiting: a refused answer changes nothing
    error_message = shown["messages"][-1]
    assert error_message["role"] == "system"
    assert error_message["text"].startswith("Please complete the form and try again.")
    assert "tier: " in error_message["text"] and "service: " in error_message["text"]
    still = await http.post(f"/threads/{THREAD}/messages", json={"text": "and now?"})
    assert still.status_code == 409

    done = await act(http, "human.form_submit", {"service": "payments", "tier": "gold"})
    assert done.status_code == 200, done.text
    assert done.json()["messages"] == [
        {"role": "assistant", "text": "Registered payments: 2 replicas, tier gold."}
    ]
    assert (await http.get(f"/threads/{THREAD}/messages")).json()["pending"] == []
    again = await http.post(f"/threads/{THREAD}/messages", json={"text": "thanks"})
    assert again.status_code == 200
    late = await act(http, "human.cancel")
    assert late.status_code == 409
    assert late.json()["code"] == "not_pending"


@pytest.mark.parametrize(
    ("action", "agent_says"),
    [
        ("human.best_judgement",
         "You left it to me: I registered unnamed-service with 2 replicas, tier silver."),
        ("human.cancel", "Cancelled: nothing was registered."),
    ],
)  # fmt: skip
async def test_best_judgement_and_cancel_continue_the_chat_and_unblock_it(
    http: httpx.AsyncClient, action: str, agent_says: str
) -> None:
    await ask_form(http)
    done = await act(http, action)
    assert done.status_code == 200, done.text
    assert done.json()["messages"] == [{"role": "assistant", "text": agent_says}]
    assert (await http.post(f"/threads/{THREAD}/messages", json={"text": "hi"})).status_code == 200


async def test_a_form_answered_elsewhere_unblocks_and_continues_the_chat(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    """Answered from another channel (here as `hitl respond` does), the chat goes on too."""
    form = await ask_form(http, **{"Accept-Language": "de-AT, en;q=0.5"})
    blocked = await http.post(f"/threads/{THREAD}/messages", json={"text": "hallo?"})
    assert blocked.json()["message"] == MESSAGES.text("de", "pending_interaction")
    async with Responder.connect(settings.amqp_url, namespace=settings.namespace) as responder:
        answers = {"answers": {"service": "web", "tier": "silver"}}
        receipt = await responder.respond(answer(uuid.UUID(form), "submit", answers))
    assert receipt is not None and receipt.result == "accepted"

    async def continued() -> bool:
        got = (await http.get(f"/threads/{THREAD}/messages")).json()
        return got["pending"] == [] and got["messages"][-1]["role"] == "assistant"

    await eventually(continued)
    last = (await http.get(f"/threads/{THREAD}/messages")).json()["messages"][-1]
    assert last["text"] == "web registriert: 2 Replikas, Stufe silver."


def test_every_locale_has_every_message_with_the_same_placeholders() -> None:
    folder = Path(__file__).resolve().parents[3] / "examples" / "chat" / "messages"
    catalogues = {p.stem: orjson.loads(p.read_bytes()) for p in folder.glob("*.json")}
    assert {"en", "de"} <= set(catalogues)
    english = catalogues["en"]
    for locale, texts in catalogues.items():
        assert set(texts) == set(english), locale
        for key, text in texts.items():
            assert sorted(_fields(text)) == sorted(_fields(english[key])), (locale, key)


def _fields(text: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


async def test_served_on_its_own_it_opens_and_closes_its_connections(
    settings: Settings, broker_process: BrokerProcess
) -> None:
    """``create_app(settings=...)``, as uvicorn serves ``examples.chat.app:app``: the lifespan
    connects to hitl; a form asked over real HTTP blocks the thread."""
    async with (
        serve(create_app(settings=settings, service="producer")) as url,
        httpx.AsyncClient(base_url=url) as web,
    ):
        await ask_form(web)
        blocked = await web.post(f"/threads/{THREAD}/messages", json={"text": "hello?"})
        assert blocked.status_code == 409


async def test_a_form_that_could_not_be_asked_does_not_block_the_thread(
    chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unroutable(request: object) -> None:
        raise TransportError("no queue is bound to 'hitl.requests'")

    monkeypatch.setattr(chat.hitl, "submit", unroutable)
    transport = httpx.ASGITransport(app=create_app(chat), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://chat") as http:
        failed = await http.post(f"/threads/{THREAD}/messages", json={"text": "register one"})
        assert failed.status_code == 500
        assert (await http.get(f"/threads/{THREAD}/messages")).json()["pending"] == []
        later = await http.post(f"/threads/{THREAD}/messages", json={"text": "hello"})
        assert later.status_code == 200
