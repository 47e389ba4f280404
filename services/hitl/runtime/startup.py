"""Bounded start-up retries that say what they wait for: a process started before its servers
(a compose stack, a pod beside a restarting RabbitMQ) waits a while, then fails clearly."""

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from aio_pika.abc import AbstractRobustConnection
from aio_pika.exceptions import InvalidFrameError, ProbableAuthenticationError
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import (
    AuthenticationError,
    AuthenticationWrongNumberOfArgsError,
    NoPermissionError,
    RedisClusterException,
)

from hitl.adapters.amqp.connection import AMQP_CONNECT_ERRORS, NodeRefused, open_amqp
from hitl.adapters.redis.connection import (
    REDIS_CONNECT_ERRORS,
    RedisClient,
    open_redis,
)
from hitl.adapters.redis.connection import ping as ping_primaries
from hitl.adapters.tls import TlsFiles
from hitl.core.backoff import backoff_delay
from hitl.errors import ConfigError, TransportError
from hitl.settings import Settings, amqp_urls, safe_url

log = logging.getLogger(__name__)
T = TypeVar("T")


async def with_startup_retries(
    what: str,
    url: str,
    attempts: int,
    connect: Callable[[], Awaitable[T]],
    errors: tuple[type[BaseException], ...],
    *,
    setting: str | None = None,
    refused: Callable[[BaseException], str | None] = lambda exc: None,
) -> T:
    """``connect()`` until it works, at most ``attempts`` times with jittered backoff; then a
    ``TransportError`` naming the server (its URL without the password), the ``setting`` it
    comes from and the last error. An error that ``refused`` explains (a login or a vhost
    refused: trying again changes nothing) is a ``ConfigError`` at once."""
    named = f"{setting}: " if setting else ""
    for attempt in range(1, attempts + 1):
        try:
            return await connect()
        except errors as exc:
            reason = refused(exc)
            if reason is not None:
                raise ConfigError(f"{named}{what} at {safe_url(url)} {reason}") from exc
            if attempt == attempts:
                raise TransportError(
                    f"{named}{what} at {safe_url(url)} not reachable after {attempts} tries: "
                    f"{exc!r}"
                ) from exc
            delay = backoff_delay(attempt, base=0.5, cap=5.0)
            log.warning(
                "waiting for %s at %s (try %d/%d, next in %.1fs): %r",
                what,
                safe_url(url),
                attempt,
                attempts,
                delay,
                exc,
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def connect_amqp(
    url: str | Sequence[str],
    attempts: int,
    *,
    name: str,
    tls: TlsFiles | None = None,
    setting: str | None = None,
) -> AbstractRobustConnection:
    """A robust RabbitMQ connection, after up to ``attempts`` tries (each a round over the
    URLs: one, or the nodes of a cluster, as a list or separated by commas)."""
    try:
        urls = amqp_urls(url) if isinstance(url, str) else amqp_urls(",".join(url))
    except ValueError as exc:
        raise ConfigError(f"{setting or 'the RabbitMQ URL'}: {exc}") from exc
    return await with_startup_retries(
        "RabbitMQ",
        ",".join(urls),
        attempts,
        lambda: open_amqp(urls, name=name, tls=tls),
        AMQP_CONNECT_ERRORS,
        setting=setting,
        refused=_amqp_refused,
    )


def _amqp_refused(exc: BaseException) -> str | None:
    if isinstance(exc, NodeRefused):
        return str(exc)
    if isinstance(exc, ProbableAuthenticationError):
        return f"refused the login (wrong user or password?): {exc.args[0] if exc.args else exc}"
    if isinstance(exc, InvalidFrameError) and "Connection.Close" in str(exc):
        return (
            "closed the connection while opening its vhost: the vhost does not exist or the "
            "user has no permissions on it (rabbitmqctl set_permissions, docs/security.md)"
        )
    return _tls_refused(exc)


# TLS failures that trying again does not mend (a transient one, the server not up yet, is an
# EOF in the handshake): a certificate that does not verify, either way, or TLS to a plain port.
_TLS_FOR_GOOD = ("CERTIFICATE", "WRONG_VERSION_NUMBER")


def _tls_refused(exc: BaseException) -> str | None:
    """Client libraries wrap TLS errors in their own: look at the text and the causes."""
    seen: BaseException | None = exc
    while seen is not None:
        said = str(seen)
        if isinstance(seen, ssl.SSLCertVerificationError) or (
            "[SSL" in said and any(reason in said for reason in _TLS_FOR_GOOD)
        ):
            return f"failed the TLS handshake (check the CA, certificate and key files): {said}"
        seen = seen.__cause__ or seen.__context__
    return None


async def connect_redis(
    url: str,
    attempts: int,
    *,
    max_connections: int = 64,
    tls: TlsFiles | None = None,
    setting: str | None = None,
    sentinel_password: str | None = None,
) -> RedisClient:
    """A Redis client whose server answered a PING (every primary of a Cluster; the primary
    the Sentinels name), after up to ``attempts`` tries. A URL for one node that reaches a
    Cluster's node, or the reverse, is a ``ConfigError`` at once."""
    try:
        client = open_redis(
            url, max_connections=max_connections, tls=tls, sentinel_password=sentinel_password
        )
    except ValueError as exc:
        raise ConfigError(f"{setting or 'the Redis URL'}: {exc}") from exc

    async def ping() -> RedisClient:
        await ping_primaries(client)
        if not isinstance(client, RedisCluster):
            info = await client.info("cluster")
            if info.get("cluster_enabled"):
                raise ConfigError(
                    f"{setting or 'the Redis URL'}: {safe_url(url)} is a node of a Redis "
                    "Cluster: name it (and others) as redis+cluster://host:port,host:port"
                )
        return client

    try:
        return await with_startup_retries(
            "Redis",
            url,
            attempts,
            ping,
            REDIS_CONNECT_ERRORS,
            setting=setting,
            refused=_redis_refused,
        )
    except BaseException:
        await client.aclose()
        raise


def _redis_refused(exc: BaseException) -> str | None:
    if isinstance(
        exc, (AuthenticationError, NoPermissionError, AuthenticationWrongNumberOfArgsError)
    ):
        return f"refused the login or a command (wrong user, password or ACL?): {exc}"
    if isinstance(exc, RedisClusterException) and "not enabled" in str(exc):
        return "is not a node of a Redis Cluster (cluster-enabled no): name one node as redis://"
    return _tls_refused(exc)


def amqp_tls(settings: Settings) -> TlsFiles:
    s = settings
    return TlsFiles(s.amqp_ca_file, s.amqp_cert_file, s.amqp_key_file)


def redis_tls(settings: Settings) -> TlsFiles:
    s = settings
    return TlsFiles(s.redis_ca_file, s.redis_cert_file, s.redis_key_file)


def redis_sentinel_password(settings: Settings) -> str | None:
    secret = settings.redis_sentinel_password
    return secret.get_secret_value() if secret is not None else None
