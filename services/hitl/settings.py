"""Settings from environment variables (``HITL_*``) and an optional TOML file (``HITL_CONFIG``).

Defaults point at the local servers, so ``hitl broker`` runs with no configuration at all.
"""

import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from hitl.core.policies import AutoApproveRule
from hitl.core.redis_url import RedisDeployment, redis_deployment
from hitl.errors import ConfigError
from hitl_contract.wire import (
    DEFAULT_DELIVERY_LIMIT,
    DEFAULT_NAMESPACE,
    DEFAULT_QUEUE_TYPE,
    DEFAULT_ROUTE,
    NAMESPACE_PATTERN,
    QueueType,
)

_SCHEMES = {"amqp_url": ("amqp", "amqps")}


def safe_url(url: str) -> str:
    """The URL without its password, for logs and errors; each one of a comma-separated list."""
    if "," in url:
        return ",".join(safe_url(part.strip()) for part in url.split(","))
    if "@" not in url:
        return url
    if "://" not in url:  # not a URL: whatever precedes the @ may be a password
        return "***@" + url.rpartition("@")[2]
    scheme, _, rest = url.partition("://")
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def amqp_urls(value: str) -> tuple[str, ...]:
    """The RabbitMQ URLs of ``HITL_AMQP_URL``: one, or the nodes of one cluster separated by
    commas, in the order they are tried. ``ValueError`` says what is wrong with the list:
    an empty entry, not an amqp:// or amqps:// URL, a node given twice, or URLs that differ in
    scheme, user or vhost (one cluster has one set of users and vhosts; TLS is all or none)."""
    urls = tuple(part.strip() for part in value.split(","))
    first = urlsplit(urls[0])
    seen: dict[tuple[str, int | None], int] = {}
    for number, url in enumerate(urls, 1):
        where = f"URL {number} of {len(urls)}" if len(urls) > 1 else "the URL"
        if not url:
            raise ValueError(f"{where} is empty (a stray comma?)")
        parts = urlsplit(url)
        if parts.scheme not in _SCHEMES["amqp_url"] or not parts.hostname:
            said = f"{where} ({safe_url(url)}) is " if len(urls) > 1 else ""
            raise ValueError(f"{said}not a URL starting amqp:// or amqps://")
        node = (parts.hostname, parts.port)
        if node in seen:
            raise ValueError(f"{where} names the same node as URL {seen[node]}: {safe_url(url)}")
        seen[node] = number
        for what, mine, theirs in (
            ("scheme", parts.scheme, first.scheme),
            ("user", parts.username, first.username),
            ("vhost", parts.path.strip("/") or "/", first.path.strip("/") or "/"),
        ):
            if mine != theirs:
                raise ValueError(
                    f"{where} has {what} {mine!r} but URL 1 has {theirs!r}: the URLs of a "
                    "cluster differ only in host and port"
                )
    return urls


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HITL_", extra="forbid", frozen=True)

    amqp_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/",
        description="RabbitMQ: one URL, or the nodes of a cluster separated by commas, tried in "
        "order at start and again after the node in use is lost (docs/deploy.md).",
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="Redis: one node (redis://), the primary of a set of Sentinels "
        "(redis+sentinel://s1:26379,s2:26379/<master>) or a Redis Cluster "
        "(redis+cluster://n1:6379,n2:6379); rediss+... over TLS (docs/deploy.md).",
    )
    redis_sentinel_password: SecretStr | None = Field(
        default=None,
        description="With redis+sentinel://: the Sentinels' own password, when they ask for one "
        "(the URL's user and password are the data nodes').",
    )
    redis_wait_replicas: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Replicas that must acknowledge each batch of state changes (Redis WAIT) "
        "before its messages are acked; 0: none (Redis replicates asynchronously).",
    )
    redis_wait_timeout_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How long WAIT waits for those replicas; a batch not acknowledged in time "
        "fails and its messages are retried.",
    )
    # TLS (docs/security.md): amqps:// and rediss:// URLs verify the server against these CAs
    # (default: the system's), and present a client certificate when one is given.
    amqp_ca_file: str | None = Field(default=None, description="CA bundle (PEM) for amqps://.")
    amqp_cert_file: str | None = Field(default=None, description="Client certificate (PEM).")
    amqp_key_file: str | None = Field(default=None, description="Its private key (PEM).")
    redis_ca_file: str | None = Field(default=None, description="CA bundle (PEM) for rediss://.")
    redis_cert_file: str | None = Field(default=None, description="Client certificate (PEM).")
    redis_key_file: str | None = Field(default=None, description="Its private key (PEM).")
    trusted_answer_services: list[str] | None = Field(
        default=None,
        description='AMQP users that may answer as any person (["hitl-gateway"]); others '
        "only as themselves. Unset: not checked (docs/security.md).",
    )
    namespace: str = Field(
        default=DEFAULT_NAMESPACE,
        pattern=NAMESPACE_PATTERN,
        description="Prefix of every exchange, queue and Redis key; isolates deployments.",
    )
    queue_type: QueueType = Field(
        default=DEFAULT_QUEUE_TYPE,
        description="quorum for production; classic for a quick dev box.",
    )
    prefetch: int = Field(
        default=256, ge=1, le=65_535, description="Unacked deliveries a consumer holds."
    )
    max_payload_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Larger messages are dead-lettered."
    )
    delivery_limit: int = Field(
        default=DEFAULT_DELIVERY_LIMIT,
        ge=1,
        description="Redeliveries of a message that keeps failing before it is dead-lettered.",
    )
    amqp_fast_path: bool = Field(
        default=True,
        description="Publish and ack through hitl's own AMQP frame writer (adapters/amqp/wire.py); "
        "false: through aio-pika's public API only, if an aio-pika or aiormq upgrade breaks it.",
    )
    redis_max_connections: int = Field(
        default=64, ge=2, le=10_000, description="Redis connections per process; more wait."
    )
    redis_script_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A batch of Redis scripts still unanswered after this fails and is retried.",
    )
    events_linger_seconds: float = Field(
        default=0.05,
        ge=0,
        le=5,
        description="How long lifecycle events wait to be sent together.",
    )
    state_cache_size: int = Field(
        default=4096, ge=0, description="Interaction states kept in memory to answer faster."
    )
    shards: int = Field(
        default=8,
        ge=1,
        le=1024,
        description="Redis hash-tag shards; fixed for a deployment's life.",
    )
    poll_interval_seconds: float = Field(default=0.25, gt=0, description="Deadline poller period.")
    claim_lease_seconds: float = Field(
        default=15.0, gt=0, description="How long a claimed deadline or outbox entry is ours."
    )
    outbox_lease_seconds: float = Field(
        default=5.0, gt=0, description="How long an unpublished outbox entry waits for its writer."
    )
    retention_seconds: int = Field(
        default=7 * 24 * 3600, ge=60, description="How long a finished interaction stays readable."
    )
    analytics_retention_seconds: int = Field(
        default=35 * 24 * 3600,
        ge=3600,
        description="How long the hourly analytics counters (hitl stats) are kept.",
    )
    shutdown_grace_seconds: float = Field(
        default=10.0,
        ge=0,
        description="On SIGTERM, how long in-flight messages may take to finish.",
    )
    startup_attempts: int = Field(
        default=30, ge=1, description="Connection tries before giving up."
    )
    metrics_host: str = Field(default="127.0.0.1", description="Address of the ops endpoint.")
    metrics_port: int = Field(default=9464, ge=0, le=65_535, description="0 disables /metrics.")
    log_format: Literal["text", "json"] = Field(default="text", description="text or json lines.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Python log level."
    )
    trace_file: str | None = Field(
        default=None,
        description="Write this process's OpenTelemetry spans to this file, one JSON object a "
        "line (needs pip install 'hitl[otel]'); for debugging and tests. Unset: spans go to the "
        "tracer provider the process was started with (opentelemetry-instrument), if any.",
    )
    early_answer_hold_seconds: float = Field(
        default=30.0, ge=0, description="How long an answer may wait for its request; 0: never."
    )
    claim_ttl_seconds: int = Field(
        default=900,
        ge=1,
        description="How long a claim holds when it names no ttl (docs/kinds.md, Claims).",
    )
    claim_max_ttl_seconds: int = Field(
        default=24 * 3600,
        ge=1,
        le=7 * 24 * 3600,
        description="The longest claim; a claim asking for more is refused.",
    )
    auto_approve: list[AutoApproveRule] = Field(
        default_factory=list, description="Rules that answer matching requests without a person."
    )
    default_route: str = Field(
        default=DEFAULT_ROUTE,
        description="Notification route for requests that name none, without a routing file.",
    )
    routing_file: str | None = Field(
        default=None,
        description="A routing config (YAML, docs/routing.md): which receivers a request "
        "reaches. Reloaded on SIGHUP and when the file changes.",
    )
    routing_watch_seconds: float = Field(
        default=2.0, gt=0, description="How often the routing file is checked for changes."
    )
    notifier_concurrency: int = Field(
        default=8,
        ge=1,
        le=1024,
        description="Notifications a notifier sends to one receiver at a time (each receiver "
        "has its own queue, so a slow one never holds up the others).",
    )
    notifier_attempts: int = Field(
        default=5, ge=1, le=50, description="Send attempts before a receiver's fallback is used."
    )
    notifier_retry_cap_seconds: float = Field(
        default=30.0, gt=0, description="The longest backoff between two attempts."
    )
    gateway_host: str = Field(default="127.0.0.1", description="Address of the HTTP gateway.")
    gateway_port: int = Field(
        default=8080, ge=0, le=65_535, description="Port of the HTTP gateway; 0 picks a free one."
    )
    gateway_receipt_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="How long an answer over HTTP waits for the broker's receipt before a 504.",
    )
    gateway_max_wait_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="The longest ?wait= a request created over HTTP may wait for its outcome.",
    )
    gateway_max_body_bytes: int | None = Field(
        default=None,
        ge=1024,
        description="Larger request bodies get a 413 before they are parsed; unset: "
        "max_payload_bytes.",
    )
    gateway_key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long a replica trusts an API key it looked up: a revoked key stops "
        "working within this.",
    )
    gateway_public_url: str | None = Field(
        default=None,
        description="The gateway's address as people reach it (https://hitl.example.com): "
        "links in email notifications and Slack messages start with it.",
    )
    link_secret: SecretStr | None = Field(
        default=None,
        description="The key that signs the answer links of email notifications (at least 32 "
        "random characters); the same in the gateway and the email notifier.",
    )
    email_link_ttl_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="How long an answer link in an email works (less when the request times "
        "out sooner).",
    )
    gateway_events_buffer_size: int = Field(
        default=10_000,
        ge=1,
        description="Lifecycle events a gateway replica keeps so an event stream can resume "
        "(Last-Event-ID).",
    )

    @field_validator("amqp_url")
    @classmethod
    def _amqp_urls(cls, value: str) -> str:
        amqp_urls(value)
        return value

    @property
    def amqp_urls(self) -> tuple[str, ...]:
        """``amqp_url`` as the list of nodes it names (one for a single RabbitMQ)."""
        return amqp_urls(self.amqp_url)

    @field_validator("redis_url")
    @classmethod
    def _redis_deployment(cls, value: str) -> str:
        redis_deployment(value)
        return value

    @property
    def redis_deployment(self) -> RedisDeployment:
        """What ``redis_url`` names: one node, Sentinel or Cluster."""
        return redis_deployment(self.redis_url)

    @model_validator(mode="after")
    def _sentinel_password_with_sentinels(self) -> "Settings":
        if self.redis_sentinel_password is not None and self.redis_deployment.kind != "sentinel":
            raise ValueError(
                "redis_sentinel_password is set but redis_url is not redis+sentinel://"
            )
        return self

    @field_validator("gateway_public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError(f"{value!r} is not an http:// or https:// base URL")
        return value.strip().rstrip("/")

    @field_validator("link_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None  # HITL_LINK_SECRET= (as a compose file writes an unset variable)
        if len(value.get_secret_value().strip()) < 32:
            raise ValueError("link_secret needs at least 32 characters: openssl rand -hex 32")
        return value

    @field_validator("routing_file", "trace_file", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        # HITL_ROUTING_FILE= (as a compose file writes an unset variable) means no file
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _tls_files_fit_the_urls(self) -> "Settings":
        for server, scheme in (("amqp", "amqps"), ("redis", "rediss")):
            url: str = getattr(self, f"{server}_url")
            given = [f for f in ("ca", "cert", "key") if getattr(self, f"{server}_{f}_file")]
            if given and not url.startswith((f"{scheme}://", f"{scheme}+")):
                raise ValueError(
                    f"{server}_{given[0]}_file is set but {server}_url is not {scheme}://"
                )
            if ("cert" in given) != ("key" in given):
                raise ValueError(f"{server}_cert_file and {server}_key_file go together")
        return self

    @model_validator(mode="after")
    def _events_linger_fits_the_outbox_lease(self) -> "Settings":
        # An outbox entry is deleted once its events are confirmed; lingering longer than
        # the lease would have the relay publish every notification and outcome again.
        if self.events_linger_seconds * 2 > self.outbox_lease_seconds:
            raise ValueError(
                f"events_linger_seconds ({self.events_linger_seconds}) must be at most half "
                f"of outbox_lease_seconds ({self.outbox_lease_seconds})"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("HITL_CONFIG")
        if config_file:
            if not Path(config_file).is_file():
                raise ConfigError(f"HITL_CONFIG names {config_file!r}, which is not a file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)
