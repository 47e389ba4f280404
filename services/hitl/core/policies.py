"""Answers without a person: auto-approve rules an operator configures (by kind, labels, or a
numeric risk field against a threshold: seed 001 conditional interactions) and the request's own
auto-approve mode (seed 002). Pure: the rules are data, matching reads only the request."""

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hitl_contract import InteractionRequest, JsonObject


class AutoApproveRule(BaseModel):
    """Resolve matching requests at once. Every condition given must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128)
    kinds: list[str] = Field(default_factory=list, description="Empty: any kind.")
    labels: dict[str, str] = Field(default_factory=dict, description="All must match.")
    risk_field: str | None = Field(
        default=None, description="Dotted path of a number in the request's context."
    )
    max_risk: float | None = Field(default=None, description="Auto-approve when risk <= this.")
    action: str | None = Field(default=None, description="Default: the kind's default answer.")
    data: JsonObject = Field(default_factory=dict)

    @model_validator(mode="after")
    def _risk_pair(self) -> "AutoApproveRule":
        if (self.risk_field is None) != (self.max_risk is None):
            raise ValueError("risk_field and max_risk go together")
        return self

    def matches(self, request: InteractionRequest) -> bool:
        if self.kinds and request.kind not in self.kinds:
            return False
        if any(request.labels.get(k) != v for k, v in self.labels.items()):
            return False
        if self.risk_field is None or self.max_risk is None:
            return True
        risk = _lookup(request.context, self.risk_field)
        # A missing or non-numeric risk never auto-approves: when in doubt, ask a person.
        return (
            isinstance(risk, int | float) and not isinstance(risk, bool) and risk <= self.max_risk
        )


@dataclass(frozen=True, slots=True)
class AutoAnswer:
    policy: str
    action: str
    data: dict[str, Any]


def auto_answer(
    request: InteractionRequest, rules: tuple[AutoApproveRule, ...] | list[AutoApproveRule]
) -> AutoAnswer | None:
    """The answer to give without asking anyone, or None to ask people."""
    default = request.DEFAULT_ANSWER
    if request.auto_approve and default is not None:
        return AutoAnswer("request", default[0], dict(default[1]))
    for rule in rules:
        if not rule.matches(request):
            continue
        if rule.action is not None:
            return AutoAnswer(rule.name, rule.action, dict(rule.data))
        if default is not None:
            return AutoAnswer(rule.name, default[0], dict(default[1]))
    return None


def _lookup(context: JsonObject, path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value
