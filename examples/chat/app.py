"""An example chat backend over hitl, seed 004's pattern (FastAPI).

The agent of this chat registers services. Asked to, it needs details from the person, so it
asks a form through hitl on the chat's thread (``thread_id`` = the chat thread) and waits for
the outcome; it may be answered here, or from Slack, mail, the inbox or the CLI. While the form
is pending the thread takes no new messages (409 with the catalogue's text, in the person's
language). The chat UI sends the person's actions as seed 004 names them: ``human.form_submit``
(the broker validates; each field's error comes back and is shown in the chat),
``human.best_judgement`` and ``human.cancel``. Whatever the outcome, the agent goes on with it.

Run it beside ``hitl broker`` (the HITL_* settings as for any hitl service)::

    uv run uvicorn examples.chat.app:app --port 8095
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from hitl.integrations.chat import Answered, Catalogue, ChatAnswers, ThreadGate
from hitl.runtime.stores import open_reads
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from hitl_contract import Identity, InteractionOutcome

MESSAGES = Catalogue.from_dir(Path(__file__).with_name("messages"))
FORM = [
    {"name": "service", "type": "string", "required": True, "max_length": 64},
    {"name": "replicas", "type": "integer", "minimum": 1, "maximum": 20, "default": 2},
    {"name": "tier", "type": "enum", "options": ["gold", "silver"], "required": True},
]
BEST_GUESS = {"service": "unnamed-service", "replicas": 2, "tier": "silver"}
ACTIONS = {"human.form_submit", "human.best_judgement", "human.cancel"}


class UserMessage(BaseModel):
    text: str


class CustomAction(BaseModel):
    type: str
    payload: dict[str, Any] = {}


@dataclass
class Thread:
    locale: str = "en"
    messages: list[dict[str, Any]] = field(default_factory=list)
    continued: dict[UUID, asyncio.Event] = field(default_factory=dict)

    def say(self, role: str, text: str, **extra: Any) -> dict[str, Any]:
        message = {"role": role, "text": text, **extra}
        self.messages.append(message)
        return message


class Chat:
    """The threads, and the agent's side of the conversation."""

    def __init__(self, hitl: HitlClient, gate: ThreadGate, answers: ChatAnswers) -> None:
        self.hitl = hitl
        self.gate = gate
        self.answers = answers
        self.threads: dict[str, Thread] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def thread(self, thread_id: str) -> Thread:
        return self.threads.setdefault(thread_id, Thread())

    def text(self, thread: Thread, key: str, **values: object) -> str:
        return MESSAGES.text(thread.locale, key, **values)

    async def reply(self, thread_id: str, text: str) -> None:
        """The agent's turn: a plain answer, or a form asked through hitl."""
        thread = self.thread(thread_id)
        if "register" not in text.lower():
            thread.say("assistant", self.text(thread, "echo", text=text))
            return
        request = self.hitl.new_request(
            "form", thread_id=thread_id, prompt=self.text(thread, "form_prompt"), fields=FORM
        )
        thread.continued[request.id] = asyncio.Event()
        self.gate.asking(request)
        try:
            await self.hitl.submit(request)
        except BaseException:  # not asked: the thread must not stay blocked on it
            self.gate.settled(request.id)
            del thread.continued[request.id]
            raise
        thread.say("form", request.prompt, interaction_id=str(request.id), fields=FORM)
        task = asyncio.create_task(self._go_on(thread_id, request.id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _go_on(self, thread_id: str, interaction_id: UUID) -> None:
        """Wait for the form's outcome, wherever it was answered, and continue with it."""
        outcome = await self.hitl.wait(interaction_id)
        thread = self.thread(thread_id)
        thread.say("assistant", self._after(thread, outcome))
        self.gate.settled(interaction_id)
        thread.continued.pop(interaction_id).set()

    def _after(self, thread: Thread, outcome: InteractionOutcome) -> str:
        if outcome.status == "cancelled":
            return self.text(thread, "cancelled")
        if outcome.status == "timed_out":
            return self.text(thread, "timed_out")
        if outcome.action == "best_judgement":
            return self.text(thread, "best_judgement", **BEST_GUESS)
        answers = outcome.data["answers"]
        assert isinstance(answers, dict)  # a form's outcome: every field, defaults filled
        return self.text(thread, "registered", **answers)

    async def act(self, thread_id: str, person: Identity, action: CustomAction) -> Answered | None:
        """The person's action on the thread's oldest pending form; None if none is pending."""
        pending = await self.gate.pending(thread_id)
        if not pending:
            return None
        interaction = pending[0].id
        if action.type == "human.form_submit":
            return await self.answers.submit(interaction, person, action.payload)
        if action.type == "human.best_judgement":
            return await self.answers.best_judgement(interaction, person)
        return await self.answers.cancel(interaction, person)

    async def continued(self, thread_id: str, outcome: InteractionOutcome | None) -> None:
        """Until the agent went on with ``outcome`` (it may have already)."""
        event = self.thread(thread_id).continued.get(outcome.interaction_id) if outcome else None
        if event is not None:
            await asyncio.wait_for(event.wait(), 30)


def the_chat(request: Request) -> Chat:
    chat: Chat = request.app.state.chat
    return chat


ChatOf = Annotated[Chat, Depends(the_chat)]
router = APIRouter(prefix="/threads")


@router.get("/{thread_id}/messages")
async def history(thread_id: str, chat: ChatOf) -> dict[str, Any]:
    pending = await chat.gate.pending(thread_id)
    return {
        "messages": chat.thread(thread_id).messages,
        "pending": [str(request.id) for request in pending],
    }


@router.post("/{thread_id}/messages", response_model=None)
async def post_message(
    thread_id: str,
    message: UserMessage,
    chat: ChatOf,
    accept_language: Annotated[str | None, Header()] = None,
) -> dict[str, Any] | JSONResponse:
    thread = chat.thread(thread_id)
    if accept_language:  # the agent answers in the language of the person's last message
        thread.locale = MESSAGES.locale(accept_language)
    pending = await chat.gate.pending(thread_id)
    if pending:
        return JSONResponse(
            {
                "code": "pending_interaction",
                "message": chat.text(thread, "pending_interaction"),
                "pending": [str(request.id) for request in pending],
            },
            status_code=409,
        )
    seen = len(thread.messages)
    thread.say("user", message.text)
    await chat.reply(thread_id, message.text)
    return {"messages": thread.messages[seen:]}


@router.post("/{thread_id}/actions", response_model=None)
async def post_action(
    thread_id: str,
    action: CustomAction,
    chat: ChatOf,
    x_chat_user: Annotated[str, Header()] = "chat-user",
) -> dict[str, Any] | JSONResponse:
    thread = chat.thread(thread_id)
    if action.type not in ACTIONS:
        return _problem(422, "unknown_action", f"{action.type}: one of {sorted(ACTIONS)}")
    seen = len(thread.messages)
    answered = await chat.act(thread_id, Identity(id=x_chat_user), action)
    if answered is None or answered.result in {"already_resolved", "unknown_interaction"}:
        return _problem(409, "not_pending", chat.text(thread, "not_pending"))
    if not answered.accepted:
        errors = "\n".join(
            chat.text(thread, "field_error", field=e.field or "-", message=e.message)
            for e in answered.errors
        )
        shown = thread.say("system", chat.text(thread, "form_error", errors=errors))
        body = {"code": "form_invalid", "message": shown["text"], "errors": [
            {"field": e.field, "message": e.message} for e in answered.errors
        ]}  # fmt: skip
        return JSONResponse(body, status_code=422)
    await chat.continued(thread_id, answered.outcome)
    return {"messages": thread.messages[seen:]}


def create_app(
    chat: Chat | None = None, settings: Settings | None = None, *, service: str = "chat"
) -> FastAPI:
    """The chat's HTTP API on ``chat``; without one, it opens its own from ``settings`` (the
    HITL_* environment by default) for as long as it serves, its outcomes coming to the reply
    queue of ``service``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if chat is not None:
            yield
            return
        async with open_chat(settings or Settings(), service=service) as opened:
            app.state.chat = opened
            yield

    app = FastAPI(title="hitl chat example", lifespan=lifespan)
    app.state.chat = chat  # given: served as is (httpx's ASGI transport runs no lifespan)
    app.include_router(router)
    return app


def _problem(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


@contextlib.asynccontextmanager
async def open_chat(settings: Settings, *, service: str = "chat") -> AsyncIterator[Chat]:
    """The chat's hitl client (its own reply queue), responder and store reads."""
    url, namespace = settings.amqp_url, settings.namespace
    async with (
        HitlClient.connect(url, service=service, namespace=namespace) as hitl,
        Responder.connect(url, namespace=namespace) as responder,
        open_reads(settings) as reads,
    ):
        yield Chat(hitl, ThreadGate(reads), ChatAnswers(responder))


app = create_app()
