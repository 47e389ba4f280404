"""Loading a routing config file: YAML, validated into ``RoutingConfig``, every error reported
with the file, line and column, the path in the document, what is wrong and what is allowed.
Nothing here keeps state; the broker's reloader decides what to do with a bad new file."""

from pathlib import Path

import yaml
from pydantic import ValidationError

from hitl.adapters.config.yaml_places import compose, parse_path, place
from hitl.core.routing.config import RoutingConfig
from hitl.errors import ConfigError


class RoutingConfigError(ConfigError):
    """A routing file that cannot be used; ``problems`` lists each error on a line of its own."""

    def __init__(self, file: str, problems: list[str]) -> None:
        super().__init__(f"{file}: invalid routing config:\n" + "\n".join(problems))
        self.problems = problems


def load_routing(path: str | Path) -> RoutingConfig:
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RoutingConfigError(file, [f"{file}: cannot be read: {exc}"]) from exc
    return parse_routing(text, file)


def parse_routing(text: str, file: str = "<routing>") -> RoutingConfig:
    try:
        data = yaml.safe_load(text)
        root = compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        problem = getattr(exc, "problem", None) or str(exc)
        raise RoutingConfigError(file, [f"{where}: not valid YAML: {problem}"]) from exc
    if not isinstance(data, dict):
        raise RoutingConfigError(
            file, [f"{file}: the document must be a mapping with receivers and route"]
        )
    try:
        return RoutingConfig.model_validate(data)
    except ValidationError as exc:
        raise RoutingConfigError(file, _problems(exc, root, file)) from exc


def _problems(exc: ValidationError, root: yaml.Node | None, file: str) -> list[str]:
    out = []
    for error in exc.errors():
        ctx = error.get("ctx") or {}
        at = ctx.get("at")
        loc = parse_path(at) if isinstance(at, str) else list(error["loc"])
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc.append(str(ctx.get("discriminator", "'type'")).strip("'"))
        where = place(root, loc)
        line = f"{file}:{where[0]}:{where[1]}" if where else file
        dotted = _dotted([s for s in loc if _is_key(s)])
        message = str(ctx.get("message") or error["msg"]).removeprefix("Value error, ")
        text = f"{line}: {dotted or '(document)'}: {message}"
        if ctx.get("allowed"):
            text += f" (allowed: {', '.join(map(str, ctx['allowed']))})"
        out.append(text)
    return out


def _is_key(step: object) -> bool:
    # pydantic puts a discriminated union's tag (webhook, email...) in loc; not a document key
    return not (isinstance(step, str) and step in {"webhook", "email", "slack", "terminal"})


def _dotted(path: list[str | int]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out
