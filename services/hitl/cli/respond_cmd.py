"""``hitl respond ID ACTION [--data JSON]``: answer an interaction as a person would."""

import argparse
import getpass
import sys
from uuid import UUID

import orjson
from pydantic import ValidationError

from hitl.sdk.responder import Responder
from hitl.settings import Settings
from hitl_contract import HumanResponse, Identity, ReceiptResult, ResponseReceipt


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("respond", help="answer an interaction (approve, reject, choose, ...)")
    p.add_argument("id", type=UUID, help="interaction id")
    p.add_argument("action", help="approve, reject, choose, respond, cancel, best_judgement...")
    p.add_argument("--data", default="{}", help="JSON object with the answer's fields")
    p.add_argument("--as", dest="who", default=None, help="responder identity (default: $USER)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the receipt")
    p.set_defaults(handler=run)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        data = orjson.loads(args.data)
    except orjson.JSONDecodeError as exc:
        print(f"hitl: --data is not valid JSON: {exc}", file=sys.stderr)
        return 2
    try:
        response = HumanResponse(
            interaction_id=args.id,
            action=args.action,
            data=data,
            responder=Identity(id=args.who or getpass.getuser()),
            channel="cli",
        )
    except ValidationError as exc:
        print(f"hitl: invalid answer: {exc}", file=sys.stderr)
        return 2
    async with Responder.connect(
        settings.amqp_url,
        namespace=settings.namespace,
        startup_attempts=settings.startup_attempts,
        fast=settings.amqp_fast_path,
    ) as responder:
        try:
            receipt = await responder.respond(response, timeout=args.timeout)
        except TimeoutError:
            print(
                f"hitl: no receipt within {args.timeout}s; is `hitl broker` running?",
                file=sys.stderr,
            )
            return 1
    assert receipt is not None
    return _report(receipt)


def _report(receipt: ResponseReceipt) -> int:
    """Print what became of the answer; the exit code says it too (0 taken, 3 late, 4 refused)."""
    o = receipt.outcome
    if receipt.result == ReceiptResult.ACCEPTED and o:
        print(f"accepted: {o.status} ({o.action})")
        return 0
    if receipt.result == ReceiptResult.RECORDED:
        print("recorded: your vote counts; the decision waits for more answers")
        return 0
    if receipt.result == ReceiptResult.HELD:
        print("held: no such interaction yet; the answer waits for its request to arrive")
        return 0
    if receipt.result == ReceiptResult.ALREADY_RESOLVED and o:
        who = o.decided_by.identity.id if o.decided_by.identity else o.decided_by.policy or ""
        print(f"already resolved: {o.status} ({o.action}) by {o.decided_by.type} {who}".rstrip())
        return 3
    error = receipt.error
    if error is None:
        print(f"{receipt.result}", file=sys.stderr)
        return 4
    for problem in error.details or [error]:
        where = f" at {problem.path}" if problem.path else ""
        allowed = f"; allowed: {problem.allowed}" if problem.allowed else ""
        print(f"{receipt.result}{where}: {problem.message}{allowed}", file=sys.stderr)
    return 4
