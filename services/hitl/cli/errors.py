"""What a ``hitl`` command can fail with, and the exit code of each (documented in docs/cli.md).

Commands raise these; ``hitl.cli.main`` prints the message as one line on stderr (never a
traceback) and exits with the code. Exit codes are distinct so scripts can tell a refused
answer from an unknown id or an unreachable server.
"""

from enum import IntEnum

import orjson

from hitl.errors import HitlError
from hitl_contract import ErrorCode, ErrorDetail, InteractionOutcome


class Exit(IntEnum):
    OK = 0
    FAILED = 1  # anything not below (a routing file that does not load, a failed check)
    USAGE = 2  # bad arguments, malformed --data, a bad HITL_* value
    ALREADY_RESOLVED = 3  # the interaction was decided before; the recorded outcome is printed
    REFUSED = 4  # the broker refused the answer (an unknown action, a field): path, allowed
    UNKNOWN = 5  # no such interaction, or a thread with nothing pending
    NOT_ALLOWED = 6  # not an allowed responder, or the gateway refused the key (401, 403)
    UNREACHABLE = 7  # a server (RabbitMQ, Redis, the gateway, a broker's receipt) did not answer
    CLAIMED = 8  # someone else holds a claim on it: who, and until when, is printed
    INTERRUPTED = 130  # Ctrl-C


EXIT_MEANINGS: dict[Exit, str] = {
    Exit.OK: "done (an answer accepted, recorded as a vote, or held on request)",
    Exit.FAILED: "failed for a reason not below (e.g. a routing file that does not load)",
    Exit.USAGE: "bad usage: arguments, malformed --data, an invalid HITL_* setting, a thread "
    "with several pending and no --id",
    Exit.ALREADY_RESOLVED: "already resolved: the recorded outcome (who, when, channel) is printed",
    Exit.REFUSED: "the broker refused the answer: an action the kind does not take, a field "
    "at fault (path, allowed values, what was sent); the interaction stays pending",
    Exit.UNKNOWN: "no such interaction, or the thread has nothing pending",
    Exit.NOT_ALLOWED: "not allowed: not among the responders (or, for a claim, not the "
    "team's member; for a release, not the holder or an admin), or the gateway refused the key",
    Exit.UNREACHABLE: "a server did not answer: RabbitMQ, Redis, the gateway, or no broker "
    "sent a receipt",
    Exit.CLAIMED: "claimed by someone else: who holds it and until when is printed; the "
    "interaction stays pending for them until the claim expires or is released",
    Exit.INTERRUPTED: "interrupted (Ctrl-C)",
}


class CliError(HitlError):
    """A failure the person can act on: ``str(error)`` says what and what to do."""

    exit_code: Exit = Exit.FAILED


class Usage(CliError):
    exit_code = Exit.USAGE


class Unknown(CliError):
    exit_code = Exit.UNKNOWN


class NotAllowed(CliError):
    exit_code = Exit.NOT_ALLOWED


class Unreachable(CliError):
    exit_code = Exit.UNREACHABLE


class Refused(CliError):
    """The broker (or the gateway for it) refused an answer; ``detail`` says where and why."""

    exit_code = Exit.REFUSED

    def __init__(self, detail: ErrorDetail) -> None:
        super().__init__(describe(detail))
        self.detail = detail

    @classmethod
    def of(cls, message: str) -> "Refused":
        return cls(ErrorDetail(code=ErrorCode.INVALID_RESPONSE, message=message))


class ClaimedByOther(CliError):
    """Someone else holds a claim on the interaction (an answer or a claim refused
    ``claimed``): the broker's message names the holder and the expiry."""

    exit_code = Exit.CLAIMED

    def __init__(self, detail: ErrorDetail) -> None:
        super().__init__(detail.message)
        self.detail = detail


class AlreadyDecided(CliError):
    """The interaction already has its outcome (printed as a receipt, not as an error)."""

    exit_code = Exit.ALREADY_RESOLVED

    def __init__(self, outcome: InteractionOutcome) -> None:
        super().__init__(f"interaction {outcome.interaction_id} is already {outcome.status}")
        self.outcome = outcome


def describe(detail: ErrorDetail) -> str:
    """One line per problem: ``refused at data.choice: message; allowed: ...; sent: ...``."""
    lines = []
    for problem in detail.details or [detail]:
        where = f" at {problem.path}" if problem.path else ""
        allowed = f"; allowed: {_values(problem.allowed)}" if problem.allowed else ""
        sent = f"; sent: {_value(problem.got)}" if problem.got is not None else ""
        lines.append(f"refused{where}: {problem.message}{allowed}{sent}")
    return "\n".join(lines)


def _values(values: list[object]) -> str:
    return ", ".join(_value(v) for v in values)


def _value(value: object) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()
