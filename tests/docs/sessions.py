"""Shell sessions shown in the docs, run for real and checked against the output they show.

A session is the ```bash blocks of a page (```sh blocks are not run). In a block, a line that is
not a comment is a command (a trailing backslash continues it); the ``# `` lines under it are
what it prints. The check is the one a reader makes, with ``...`` for what varies:

- a shown line matches a printed line when they are equal outside of ``...``; a word written
  against ``...`` (``3f9c...``) is a placeholder, so ``3f9c...`` matches any key id;
- a shown line that starts with ``{`` or ``[`` (continued over the next lines until it is whole)
  is JSON: every member it shows must be there with that value, a bare ``...`` in an object
  allows more members and at the end of a list more items, and a string with ``...`` in it
  matches as a line does. Without a bare ``...``, an object has exactly the members shown;
- shown lines must appear in the output in their order; other printed lines may come between
  (headers such as ``date:``, blank lines). A bare ``...`` in place of a value matches any value.

``uv run hitl`` and ``uv run python`` run as this interpreter does (the same environment, without
uv starting another one), and ``export NAME=$(command)`` keeps what the command printed on
stdout in the session's environment; its stderr is what the block shows. Commands run through
bash, one at a time, and must exit 0, except a ``curl --max-time`` that ran out of time (28).
"""

import asyncio
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

_MORE = "\u2026"  # stands for a bare ``...`` once a JSON template is parsed
_PLACEHOLDER = re.compile(r"\w*\.\.\.")
_EXPORT = re.compile(r"^export (\w+)=\$\((.*)\)$", re.S)


@dataclass(frozen=True)
class Step:
    command: str
    shown: list[str]
    where: str


def session(path: Path, fence: str = "bash", marker: str | None = None) -> list[Step]:
    """The commands of ``path``'s ``fence`` blocks, in order, with the output shown under each;
    with ``marker``, only the blocks between ``<!-- marker -->`` and ``<!-- /marker -->``."""
    text = path.read_text()
    start_at, end_at = 0, len(text)
    if marker is not None:
        start_at = text.index(f"<!-- {marker} -->")
        end_at = text.index(f"<!-- /{marker} -->", start_at)
    steps: list[Step] = []
    pattern = re.compile(rf"^```{fence}\n(.*?)^```", flags=re.M | re.S)
    for block in pattern.finditer(text, start_at, end_at):
        first = text.count("\n", 0, block.start(1)) + 1
        pending: list[str] = []
        current: Step | None = None  # the block's last command: comment lines are its output
        for offset, line in enumerate(block.group(1).splitlines()):
            if not pending and line.startswith("#"):
                if current is not None:
                    current.shown.append(line[2:])
                continue
            if not pending and not line.strip():
                continue
            if not pending:
                start = first + offset
            pending.append(line)
            if not line.endswith("\\"):
                current = Step("\n".join(pending), [], f"{path.name}:{start}")
                steps.append(current)
                pending = []
    return steps


# --- matching ---------------------------------------------------------------------------------


def _line_pattern(shown: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(shown)
    return re.compile(".*".join(re.escape(part) for part in parts), re.S)


_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|\.\.\.|[{}\[\]]|[^"{}\[\].]+|.', re.S)


def _template(text: str) -> Any:
    """A shown JSON document, its bare ``...`` turned into markers."""
    out: list[str] = []
    stack: list[str] = []
    for token in _TOKENS.findall(text):
        if token == "...":
            if "".join(out).rstrip().endswith(":"):  # a value: any value
                token = '"..."'
            elif stack and stack[-1] == "{":
                token = f'"{_MORE}": 0'
            else:
                token = f'"{_MORE}"'
        elif token in ("{", "["):
            stack.append(token)
        elif token in ("}", "]") and stack:
            stack.pop()
        out.append(token)
    return orjson.loads("".join(out))


def fits(template: Any, actual: Any) -> bool:
    """Whether ``actual`` (parsed JSON) is what the shown ``template`` says."""
    if isinstance(template, dict):
        if not isinstance(actual, dict):
            return False
        shown = {k: v for k, v in template.items() if k != _MORE}
        if _MORE not in template and set(shown) != set(actual):
            return False
        return all(k in actual and fits(v, actual[k]) for k, v in shown.items())
    if isinstance(template, list):
        if not isinstance(actual, list):
            return False
        more = bool(template) and template[-1] == _MORE
        items = template[:-1] if more else template
        if len(actual) < len(items) or (not more and len(actual) != len(items)):
            return False
        return all(fits(t, a) for t, a in zip(items, actual, strict=False))
    if isinstance(template, str) and "..." in template:
        if template == "...":
            return True
        return isinstance(actual, str) and bool(_line_pattern(template).fullmatch(actual))
    return bool(template == actual and type(template) is type(actual))


def _expectations(shown: list[str]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    lines = list(shown)
    while lines:
        line = lines.pop(0)
        if line.lstrip().startswith(("{", "[")):
            text = line
            while True:
                try:
                    out.append(("json", _template(text)))
                    break
                except orjson.JSONDecodeError:
                    if not lines:
                        raise ValueError(f"shown JSON does not parse: {text}") from None
                    text += lines.pop(0).strip()
        else:
            out.append(("line", _line_pattern(line)))
    return out


def mismatch(shown: list[str], printed: str) -> str | None:
    """None when ``printed`` shows what ``shown`` says; else which shown line was not found."""
    lines = [line for line in printed.splitlines() if line.strip()]
    at = 0
    for (how, expected), text in zip(_expectations(shown), _shown_texts(shown), strict=True):
        while at < len(lines):
            line = lines[at]
            at += 1
            if how == "line" and expected.fullmatch(line):
                break
            if how == "json":
                try:
                    if fits(expected, orjson.loads(line)):
                        break
                except orjson.JSONDecodeError:
                    pass
        else:
            return f"not printed (in this order): {text}"
    return None


def _shown_texts(shown: list[str]) -> list[str]:
    """The shown lines grouped as ``_expectations`` groups them, for messages."""
    texts: list[str] = []
    lines = list(shown)
    while lines:
        text = lines.pop(0)
        if text.lstrip().startswith(("{", "[")):
            while lines:
                try:
                    _template(text)
                    break
                except orjson.JSONDecodeError:
                    text += lines.pop(0).strip()
        texts.append(text)
    return texts


# --- running ----------------------------------------------------------------------------------


@dataclass
class Shell:
    """Runs steps one at a time with an environment the ``export`` lines add to."""

    env: dict[str, str]
    replace: Mapping[str, str] = field(default_factory=dict)

    def prepare(self, command: str) -> str:
        command = command.replace("uv run hitl ", f"{sys.executable} -m hitl.cli.main ")
        command = command.replace("uv run python ", f"{sys.executable} ")
        for old, new in self.replace.items():
            command = command.replace(old, new)
        return command

    async def run(self, step: Step, timeout: float = 30) -> str:
        """Run ``step``; what it printed (stdout and stderr, or stderr for an export)."""
        command = self.prepare(step.command)
        export = _EXPORT.match(command)
        process = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            export.group(2) if export else command,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout)
        allowed = {0, 28} if "--max-time" in command else {0}
        if process.returncode not in allowed:
            raise AssertionError(
                f"{step.where}: `{step.command}` exited {process.returncode}:\n"
                f"{out.decode()}{err.decode()}"
            )
        if export:
            self.env[export.group(1)] = out.decode().strip()
            return err.decode()
        return out.decode() + ("\n" if out and not out.endswith(b"\n") else "") + err.decode()

    async def check(self, step: Step) -> str:
        """Run ``step`` and fail unless it printed what the docs show under it."""
        printed = await self.run(step)
        problem = mismatch([self.replace_in(s) for s in step.shown], printed)
        assert problem is None, f"{step.where}: `{step.command}`: {problem}\nprinted:\n{printed}"
        return printed

    def replace_in(self, shown: str) -> str:
        for old, new in self.replace.items():
            if not old.startswith("http://"):
                shown = shown.replace(old, new)
        return shown
