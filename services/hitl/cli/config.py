"""Settings for the commands that need them, read when they run (never at import), and a bad
``HITL_*`` value reported as the variable a person set: its name, what was given, what is
allowed."""

import os
from typing import Any, get_args

from annotated_types import Ge, Gt, Le, Lt
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from hitl.cli.errors import Usage
from hitl.errors import ConfigError
from hitl.settings import Settings, safe_url


def load_settings(**overrides: Any) -> Settings:
    """``Settings()`` from HITL_* and HITL_CONFIG; a ``Usage`` error naming each bad value."""
    try:
        settings = Settings()
    except ValidationError as exc:
        raise Usage("invalid settings: " + "; ".join(explain(exc))) from exc
    except ConfigError as exc:
        raise Usage(f"invalid settings: {exc}") from exc
    return settings.model_copy(update=overrides) if overrides else settings


def explain(exc: ValidationError) -> list[str]:
    """One sentence per bad setting: ``HITL_PREFETCH='lots' is not valid (...); allowed: ...``."""
    found = []
    for error in exc.errors(include_url=False):
        loc = error.get("loc") or ()
        name = str(loc[0]) if loc else ""
        field = Settings.model_fields.get(name)
        if field is None:  # a model-level rule over several settings
            found.append(str(error["msg"]).removeprefix("Value error, "))
            continue
        variable = f"HITL_{name.upper()}"
        where = _where(variable)
        given = error.get("input")
        if name in ("amqp_url", "redis_url") and isinstance(given, str):
            given = safe_url(given)  # never a password on the screen
        allowed = allowed_values(field)
        found.append(
            f"{variable}={given!r} {where}is not valid ({error['msg']})"
            + (f"; allowed: {allowed}" if allowed else "")
        )
    return found


def _where(variable: str) -> str:
    if variable in os.environ:
        return ""
    config = os.environ.get("HITL_CONFIG")
    return f"(from {config}) " if config else ""


def allowed_values(field: FieldInfo) -> str:
    """What a setting takes, in words: its type and bounds."""
    annotation = field.annotation
    choices = get_args(annotation)
    if choices and all(isinstance(c, str) for c in choices):
        return ", ".join(choices)
    kind = {int: "an integer", float: "a number", bool: "true or false", str: "text"}.get(
        annotation,  # type: ignore[arg-type]
        "",
    )
    bounds = []
    for rule in field.metadata:
        if isinstance(rule, Ge):
            bounds.append(f"at least {rule.ge}")
        elif isinstance(rule, Gt):
            bounds.append(f"more than {rule.gt}")
        elif isinstance(rule, Le):
            bounds.append(f"at most {rule.le}")
        elif isinstance(rule, Lt):
            bounds.append(f"less than {rule.lt}")
        elif getattr(rule, "pattern", None):
            bounds.append(f"matching {rule.pattern}")
    return ", ".join(filter(None, [kind, *bounds]))
