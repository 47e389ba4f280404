"""The routing config: receivers, a tree of routes, time windows and route tests.

Validated by pydantic when loaded (``hitl.adapters.files.routing`` adds the file and line of
each error); its JSON Schema is exported to schemas/json/routing-config.schema.json. Secrets
are references (an environment variable or a file), resolved by the notifier that uses them,
never stored in the config or printed.
"""

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from hitl.core.routing.durations import Duration
from hitl.core.routing.matchers import Matcher, MatcherError, parse_matcher
from hitl.core.routing.windows import TimeWindow, instant
from hitl_contract import Identity

Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")]


def _matcher(value: object) -> Matcher:
    if isinstance(value, Matcher):
        return value
    if not isinstance(value, str):
        # pydantic turns ValueError (not TypeError) into a located validation error
        raise ValueError('a matcher is text like kind=approval or team=~"fin.*"')  # noqa: TRY004
    try:
        return parse_matcher(value)
    except MatcherError as exc:
        raise ValueError(str(exc)) from exc


MatcherField = Annotated[
    Matcher,
    PlainValidator(_matcher),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\s*[A-Za-z_][A-Za-z0-9_.\-/]*\s*(=~|!~|!=|=)",
            "description": "name=value, name!=value, name=~regex or name!~regex",
            "examples": ["kind=approval", 'labels.team=~"fin.*"'],
        }
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SecretRef(_Strict):
    """Where a secret is: an environment variable or a file; never the secret itself."""

    env: str | None = Field(default=None, description="Name of an environment variable.")
    file: str | None = Field(default=None, description="Path of a file holding the secret.")

    @model_validator(mode="after")
    def _one(self) -> "SecretRef":
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")  # no line breaks (header injection), ASCII
# Headers the webhook channel writes itself: a receiver's `headers` may not replace them.
WEBHOOK_OWN_HEADERS = frozenset(
    {
        "content-type", "content-length", "transfer-encoding", "host", "user-agent",
        "accept-encoding", "webhook-id", "webhook-timestamp", "webhook-signature",
    }
)  # fmt: skip


class WebhookReceiver(_Strict):
    type: Literal["webhook"]
    name: Name
    url: str = Field(description="Where requests are POSTed (http or https).")
    secret: SecretRef | None = Field(
        default=None, description="The whsec_ signing secret (Standard Webhooks)."
    )
    secrets: list[SecretRef] | None = Field(
        default=None,
        min_length=1,
        description="Instead of `secret`, during a key rotation: every request is signed with "
        "each of them, so the receiver accepts it with the old secret or the new one.",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra request headers, e.g. Authorization."
    )
    timeout: Duration = Field(default=10.0, description="Per attempt.")
    allow_private: bool = Field(
        default=False, description="Allow loopback, private and link-local destinations."
    )

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http:// or https:// URL with a host")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a header name (letters, digits, -, _ ...)")
            if name.lower() in WEBHOOK_OWN_HEADERS:
                raise ValueError(f"{name} is set by hitl itself, not by headers")
            if not _HEADER_VALUE.fullmatch(text):
                raise ValueError(
                    f"the value of {name} holds a line break, a control character or non-ASCII"
                )
        return value

    @model_validator(mode="after")
    def _secret_or_secrets(self) -> "WebhookReceiver":
        if self.secret is not None and self.secrets is not None:
            raise ValueError("give secret or secrets, not both")
        return self

    @property
    def signing_secrets(self) -> tuple[SecretRef, ...]:
        """The secrets every request is signed with; empty for an unsigned receiver."""
        if self.secrets is not None:
            return tuple(self.secrets)
        return () if self.secret is None else (self.secret,)


_ADDRESS = r"^[^@\s]+@[^@\s]+$"
Address = Annotated[str, Field(pattern=_ADDRESS, max_length=254)]


class SmtpServer(_Strict):
    """The SMTP server an email receiver sends through (a YAML anchor shares one between
    receivers)."""

    host: str = Field(min_length=1, max_length=253, description="Host name or address.")
    port: int | None = Field(
        default=None, ge=1, le=65_535, description="Default: 587 (starttls), 465 (tls), 25 (none)."
    )
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="starttls: upgrade a plain connection (refused if the server cannot); tls: "
        "TLS from the first byte (SMTPS); none: plain text, for a relay on the same host.",
    )
    ca_file: str | None = Field(
        default=None,
        description="PEM file of the CA(s) that signed the server's certificate; default: the "
        "system's. The certificate is always checked against host.",
    )
    username: str | None = Field(default=None, max_length=256)
    password: SecretRef | None = Field(default=None, description="With username: SMTP AUTH.")
    from_: Address = Field(alias="from", description="The sender address of every mail.")
    timeout: Duration = Field(
        default=10.0, description="Per attempt: connecting, greeting, TLS, AUTH and sending."
    )

    @model_validator(mode="after")
    def _credentials(self) -> "SmtpServer":
        if (self.username is None) != (self.password is None):
            raise ValueError("give username and password together (SMTP AUTH), or neither")
        if self.password is not None and self.security == "none":
            raise ValueError("a password is not sent in plain text: use security starttls or tls")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or {"starttls": 587, "tls": 465, "none": 25}[self.security]


class EmailReceiver(_Strict):
    type: Literal["email"]
    name: Name
    to: list[Address] = Field(
        min_length=1, description="Each address gets its own mail: its links answer as it."
    )
    cc: list[Address] = Field(default_factory=list, description="Sent the same way as to.")
    subject_prefix: str = Field(default="[hitl]", max_length=64)
    smtp: SmtpServer | None = Field(default=None, description="Required to send.")
    identities: dict[Address, Identity] = Field(
        default_factory=dict,
        description="Who an address answers as (id and groups, for the request's responders); "
        "by default the address itself.",
    )

    @property
    def recipients(self) -> list[str]:
        return list(dict.fromkeys([*self.to, *self.cc]))

    def identity(self, address: str) -> Identity:
        return self.identities.get(address) or Identity(id=address)


SlackUserId = Annotated[str, Field(pattern=r"^[UW][A-Z0-9]{2,30}$")]


class SlackReceiver(_Strict):
    type: Literal["slack"]
    name: Name
    channel: str = Field(min_length=1, description="Channel id or #name.")
    token: SecretRef = Field(description="The bot token (xoxb-...).")
    signing_secret: SecretRef | None = Field(
        default=None,
        description="The Slack app's signing secret: the gateway checks the answers people "
        "click with it. Without it, messages carry no buttons.",
    )
    users: dict[SlackUserId, Identity] = Field(
        default_factory=dict,
        description="Who each Slack user (U...) answers as; an unlisted user cannot answer.",
    )
    api_url: str = Field(
        default="https://slack.com/api/", description="The Web API's base URL (tests, proxies)."
    )
    timeout: Duration = Field(default=10.0, description="Per Web API call.")

    @field_validator("api_url")
    @classmethod
    def _api(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http:// or https:// URL with a host")
        return value if value.endswith("/") else value + "/"


class TerminalReceiver(_Strict):
    type: Literal["terminal"]
    name: Name


AnyReceiver = WebhookReceiver | EmailReceiver | SlackReceiver | TerminalReceiver
Receiver = Annotated[AnyReceiver, Field(discriminator="type")]


class EscalationStep(_Strict):
    after: Duration = Field(description="While still pending this long after the request.")
    receivers: list[Name] = Field(min_length=1, description="Added to those already notified.")


class Inactive(_Strict):
    """What happens to a notification outside the route's active time windows."""

    action: Literal["hold", "send"] = Field(
        default="hold", description="hold: wait until a window opens; send: to `receivers`."
    )
    receivers: list[Name] = Field(default_factory=list)

    @model_validator(mode="after")
    def _send_has_receivers(self) -> "Inactive":
        if self.action == "send" and not self.receivers:
            raise ValueError("action send needs receivers")
        if self.action == "hold" and self.receivers:
            raise ValueError("action hold takes no receivers (they are for send)")
        return self


class Route(_Strict):
    """A node of the tree. Unset settings are inherited from the parent route."""

    name: str | None = Field(default=None, max_length=128, description="Shown in route tests.")
    matchers: list[MatcherField] = Field(default_factory=list, description="All must match.")
    receivers: list[Name] | None = None
    continue_: bool = Field(
        default=False,
        alias="continue",
        description="After this route matched, go on trying its later siblings.",
    )
    reminder_every: Duration | None = None
    max_reminders: int | None = Field(default=None, ge=1)
    escalation: list[EscalationStep] | None = None
    active_time: list[Name] | None = Field(default=None, description="Time window names.")
    inactive: Inactive | None = None
    fallback: Name | None = Field(
        default=None, description="Receiver used when a receiver's delivery fails for good."
    )
    routes: list["Route"] = Field(default_factory=list)


class RouteTest(_Strict):
    """A request's fields, and the receivers it must reach (in any order)."""

    name: str = Field(min_length=1, max_length=256)
    request: dict[str, Any] = Field(
        description="kind, node_name, requester, thread and labels, as in a request."
    )
    at: str | None = Field(
        default=None,
        description="ISO 8601 instant with offset; receivers held then are not expected. "
        "Default: time windows are ignored.",
    )
    expect: list[Name]

    @field_validator("at")
    @classmethod
    def _instant(cls, value: str | None) -> str | None:
        if value is not None:
            instant(value)
        return value


class RoutingConfig(_Strict):
    receivers: list[Receiver] = Field(min_length=1)
    _tree: Any = PrivateAttr(default=None)  # the compiled tree (routing.tree.compiled)
    route: Route = Field(description="The root route: every request starts here.")
    time_windows: list[TimeWindow] = Field(default_factory=list)
    tests: list[RouteTest] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> "RoutingConfig":
        from hitl.core.routing.references import check_references

        check_references(self)
        return self

    def receiver(self, name: str) -> AnyReceiver:
        return next(r for r in self.receivers if r.name == name)


def routing_schema() -> dict[str, Any]:
    """The JSON Schema of a routing file (schemas/json/routing-config.schema.json): what an
    editor can check as people type. The cross-references (every receiver and window named
    exists) are checked by ``hitl routes check`` only."""
    schema = RoutingConfig.model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://hitl.dev/schemas/routing-config.schema.json",
        "title": "hitl routing config",
        **schema,
    }
