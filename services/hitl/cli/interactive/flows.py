"""How each kind is answered at a terminal (seed 002): which questions, in which order, and the
answer they make. Everything goes through a ``Prompter``, so the flows run the same on a real
terminal and in tests with a scripted one."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pydantic import JsonValue

from hitl.cli.interactive import panels
from hitl.cli.interactive.forms import ask_field, field_at_fault
from hitl.cli.interactive.prompter import Prompter
from hitl_contract import (
    ApprovalRequest,
    BatchRequest,
    ChoiceRequest,
    ClarifyRequest,
    ConversationRequest,
    EditRequest,
    ErrorDetail,
    FormRequest,
    InteractionRequest,
    JsonObject,
    TextInputRequest,
)

FEEDBACK = {"revise": "What should change? ", "refine": "What should be improved? "}
REVIEW_QUESTION = {"confirmation": "Proceed?", "preview": "Looks good?", "validation": "Accept?"}


@dataclass
class Answer:
    action: str
    data: JsonObject = field(default_factory=dict)


Flow = Callable[[InteractionRequest, Prompter], Awaitable[Answer]]


async def ask(request: InteractionRequest, prompter: Prompter) -> Answer:
    flow = FLOWS.get(request.kind, _typed_action)
    return await flow(request, prompter)


async def fix(
    request: InteractionRequest, answer: Answer, refusal: ErrorDetail, prompter: Prompter
) -> Answer:
    """After the broker refused ``answer``: a form re-asks only the fields at fault, with the
    broker's message; anything else is asked again from the start."""
    problems = refusal.details or [refusal]
    if isinstance(request, FormRequest) and answer.action == "submit":
        given = answer.data.get("answers")
        answers: JsonObject = dict(given) if isinstance(given, dict) else {}
        for problem in problems:
            spec = field_at_fault(request, problem.path)
            if spec is None:
                return await ask(request, prompter)
            prompter.say(f"{spec.label or spec.name}: {problem.message}")
            value = await ask_field(spec, prompter, answers.get(spec.name))
            if value is None:
                answers.pop(spec.name, None)
            else:
                answers[spec.name] = value
        return Answer("submit", {"answers": answers})
    return await ask(request, prompter)


async def _approval(request: InteractionRequest, prompter: Prompter) -> Answer:
    assert isinstance(request, ApprovalRequest)
    actions = ["approve", "reject", "cancel", "best_judgement"]
    action = actions[await _pick(prompter, "Your decision:", actions)]
    note = "note" if action == "best_judgement" else "reason"
    text = (await prompter.text(f"{note.capitalize()} (optional, Enter to skip): ")).strip()
    return Answer(action, {note: text} if text else {})


async def _choice(request: InteractionRequest, prompter: Prompter) -> Answer:
    assert isinstance(request, ChoiceRequest)
    data: JsonObject = {}
    if request.multiple:
        data["choices"] = list[JsonValue](await _numbers(prompter, len(request.options)))
        if request.allow_other:
            other = (await prompter.text("Other (optional, Enter to skip): ")).strip()
            if other:
                data["other"] = other
    else:
        got = await prompter.select(
            "Select one option:", request.options, other=request.allow_other
        )
        if isinstance(got, str):
            data["other"] = got
        else:
            data["choice"] = got + 1
    justification = (await prompter.text("Justification (optional, Enter to skip): ")).strip()
    if justification:
        data["justification"] = justification
    return Answer("choose", data)


async def _numbers(prompter: Prompter, count: int) -> list[int]:
    while True:
        text = await prompter.text(f"Options, comma-separated numbers 1-{count}: ")
        try:
            picked = [int(p) for p in text.replace(" ", "").split(",") if p]
        except ValueError:
            picked = []
        if picked and all(1 <= p <= count for p in picked):
            return picked
        prompter.say(f"give numbers from 1 to {count}, e.g. 1,3")


async def _text_input(request: InteractionRequest, prompter: Prompter) -> Answer:
    assert isinstance(request, TextInputRequest)
    if request.fields:
        data: JsonObject = {}
        for f in request.fields:
            value = (await prompter.text(f"{f.label or f.name}: ")).strip()
            if value:
                data[f.name] = value
        return Answer("respond", data)
    return Answer("respond", {"text": await _required(prompter, "Your answer: ")})


async def _edit(request: InteractionRequest, prompter: Prompter) -> Answer:
    assert isinstance(request, EditRequest)
    prompter.say("opening your editor ($VISUAL or $EDITOR); save and quit to go on")
    edited = await prompter.edit(request.content)
    changes = (await prompter.text("Changes made (comma-separated, optional): ")).strip()
    data: JsonObject = {"edited": edited.rstrip("\n")}
    if changes:
        data["changes"] = [c.strip() for c in changes.split(",") if c.strip()]
    return Answer("edit", data)


async def _conversation(request: InteractionRequest, prompter: Prompter) -> Answer:
    assert isinstance(request, ConversationRequest)
    actions = ["respond", "end"]
    action = actions[await _pick(prompter, "Reply, or end the conversation:", actions)]
    message = await _required(prompter, "Your message: ") if action == "respond" else ""
    return Answer(action, {"message": message} if message else {})


async def _form(request: InteractionRequest, prompter: Prompter) -> Answer:
    assert isinstance(request, FormRequest)
    answers: JsonObject = {}
    for spec in request.fields:
        value = await ask_field(spec, prompter, None)
        if value is not None:
            answers[spec.name] = value
    return Answer("submit", {"answers": answers})


async def _clarify(request: InteractionRequest, prompter: Prompter) -> Answer:
    assert isinstance(request, ClarifyRequest)
    answers: JsonObject = {}
    total = len(request.questions)
    for number, q in enumerate(request.questions, 1):
        panels.question(number, total, q.question, q.rationale)
        if q.options:
            got = await prompter.select("Select one option:", q.options, other=True)
            value: str | int = got if isinstance(got, str) else got + 1
        else:
            value = await _required(prompter, "Your answer: ")
        answers[q.key or str(number)] = value
    return Answer("answer", {"answers": answers})


async def _review(request: InteractionRequest, prompter: Prompter) -> Answer:
    """confirmation, preview, validation: a typed action, empty for the first (proceed)."""
    actions = [a for a in request.allowed_actions() if a != "best_judgement"]
    question = REVIEW_QUESTION.get(request.kind, "Your answer?")
    while True:
        typed = await prompter.text(f"{question} ({'/'.join(actions)}) ", default=actions[0])
        action = typed.strip().lower()
        if action in actions:
            break
        prompter.say(f"{typed.strip()!r} is not one of {', '.join(actions)}")
    if action in FEEDBACK:
        return Answer(action, {"feedback": await _required(prompter, FEEDBACK[action])})
    if action == "cancel":
        reason = (await prompter.text("Reason (optional, Enter to skip): ")).strip()
        return Answer(action, {"reason": reason} if reason else {})
    return Answer(action)


async def _batch(request: InteractionRequest, prompter: Prompter) -> Answer:
    assert isinstance(request, BatchRequest)
    actions = list(request.item_actions)
    how = await _pick(prompter, f"{len(request.items)} items:", ["one by one", "all at once"])
    if how == 1:
        return Answer("decide", {"all": actions[await _pick(prompter, "For every item:", actions)]})
    decisions: JsonObject = {}
    notes: JsonObject = {}
    for number, item in enumerate(request.items, 1):
        picked = await _pick(prompter, f"[{number}/{len(request.items)}] {item.title}:", actions)
        decisions[item.id] = actions[picked]
        note = (await prompter.text("Note (optional, Enter to skip): ")).strip()
        if note:
            notes[item.id] = note
    return Answer("decide", {"decisions": decisions, **({"notes": notes} if notes else {})})


async def _typed_action(request: InteractionRequest, prompter: Prompter) -> Answer:
    actions = list(request.allowed_actions())
    return Answer(actions[await _pick(prompter, "Your answer:", actions)])


async def _pick(prompter: Prompter, message: str, options: list[str]) -> int:
    got = await prompter.select(message, options)
    assert isinstance(got, int)  # no "Other" was offered
    return got


async def _required(prompter: Prompter, message: str) -> str:
    while not (text := (await prompter.text(message)).strip()):
        prompter.say("an answer is needed (or Ctrl-C to stop)")
    return text


FLOWS: dict[str, Flow] = {
    "approval": _approval,
    "choice": _choice,
    "text_input": _text_input,
    "edit": _edit,
    "conversation": _conversation,
    "form": _form,
    "clarify": _clarify,
    "confirmation": _review,
    "preview": _review,
    "validation": _review,
    "batch": _batch,
}
