"""Least privilege: what each hitl role may do in RabbitMQ and Redis, from the same names the
code declares (``hitl_contract.wire.Names``), printed by ``hitl access`` (docs/security.md).

RabbitMQ checks three regular expressions per user and vhost against the name of the exchange
or queue an operation touches: *configure* (declare, delete), *write* (publish to an exchange;
bind to a queue; a queue declared with a dead-letter exchange needs write on it) and *read*
(consume a queue; bind from an exchange). The default exchange is checked as ``amq.default``;
a queue RabbitMQ names itself as ``amq.gen-...``. Topic permissions narrow which routing keys a
user may bind on ``<ns>.outcomes``: a producer reads only its own outcomes.

The broker owns the shared topology (exchanges, its queues, the dead-letter queue, the store
log): only its user may declare or delete them. The other roles check the exchanges passively
and declare only their own queues.

Redis: one ACL user, the namespace's keys only, and the commands of hitl's scripts and reads.
"""

import re
from dataclasses import dataclass
from typing import Literal

from hitl_contract import ErrorCode, ErrorDetail, Identity
from hitl_contract.wire import Names

Role = Literal["broker", "producer", "notifier", "gateway"]
ROLES: tuple[Role, ...] = ("broker", "producer", "notifier", "gateway")
HTTP_REPLY_TO = "http"  # the gateway's producer name (hitl.gateway.creating.HTTP_REPLY_TO)
_DEFAULT_EXCHANGE = "amq.default"
# Exclusive queues of no fixed name (receipts, private events): named by RabbitMQ, or by
# aio-pika's robust channel, which names them itself to declare them again after a reconnect.
_SERVER_NAMED = r"amq\.gen-.+|amq_[0-9a-f]{32}"

# What hitl runs in Redis: the commands inside the Lua scripts (adapters/redis/lua) and those
# the adapters send themselves (reads, API keys, delivery log, webhook ids, answer links, store
# integrity), plus the connection's own (PING at start, INFO server for the run id, SELECT for
# a database other than 0; redis-py's CLIENT SETINFO, Redis 7.2+, may be refused: it ignores
# that; on a Redis Cluster, CLUSTER SLOTS and COMMAND for redis-py's map, ASKING for a slot
# being migrated).
# tests/unit/test_access.py checks every command the code names is here.
REDIS_COMMANDS: tuple[str, ...] = (
    # scripts
    "evalsha", "eval", "script|load",
    # inside the scripts and in the adapters
    "del", "unlink", "exists", "expire", "get", "set",
    "hdel", "hexists", "hget", "hgetall", "hincrby", "hmget", "hset", "hsetnx",
    "lrange", "rpush",
    "zadd", "zcard", "zrange", "zrangebyscore", "zrevrangebyscore", "zrem",
    # the connection
    "ping", "info", "select",
    # HITL_REDIS_WAIT_REPLICAS; a Redis Cluster's map of slots and redirections (redis-py)
    "wait", "cluster|slots", "asking", "command",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Permissions:
    configure: str
    write: str
    read: str
    # exchange -> (write, read) routing-key regexes (rabbitmqctl set_topic_permissions)
    topics: tuple[tuple[str, str, str], ...] = ()


def _names(*patterns: str) -> str:
    """One anchored regex of alternatives; each pattern already escaped where literal."""
    return "^(" + "|".join(patterns) + ")$" if patterns else "^$"


def _lit(name: str) -> str:
    return re.escape(name)


def permissions(
    role: Role, names: Names, *, service: str | None = None, cancel: bool = False
) -> Permissions:
    """The permissions of ``role`` in ``names``'s namespace. A producer's ``service`` names its
    reply queue (``<ns>.reply.<service>`` and ``<ns>.reply.<service>.<instance>``); ``cancel``
    lets it withdraw its own requests (``HitlClient.cancel`` publishes on the responses
    exchange, where the broker's ``trusted_answer_services`` then decides what it may say)."""
    ns = _lit(names.namespace)
    exchanges = [_lit(e) for e in (*names.exchanges, names.dead_letter)]
    dlx = _lit(names.dead_letter)
    if role == "broker":
        queues = [
            _lit(q)
            for q in (
                names.requests_queue,
                names.responses_queue,
                names.dead_letter_queue,
                f"{names.namespace}.store-log",  # hitl.adapters.amqp.store_log
            )
        ]
        return Permissions(
            configure=_names(*exchanges, *queues),
            write=_names(
                *(_lit(e) for e in (names.notifications, names.outcomes, names.events)),
                dlx,
                *queues,
                _lit(_DEFAULT_EXCHANGE),  # receipts to each sender's reply_to queue
            ),
            read=_names(
                *(_lit(e) for e in (names.requests, names.responses, names.events)),
                dlx,
                *queues,
            ),
        )
    if role == "producer":
        if not service:
            raise ValueError("a producer's permissions need its service name (--service)")
        reply = _lit(names.reply_queue(service)) + r"(\..+)?"
        write = [_lit(names.requests), reply, dlx]
        if cancel:
            write.append(_lit(names.responses))
        return Permissions(
            configure=_names(reply),
            write=_names(*write),
            read=_names(_lit(names.outcomes), reply),
            topics=((names.outcomes, "^$", "^" + _lit(service) + r"(\..+)?$"),),
        )
    if role == "notifier":
        own = [
            _lit(names.notifier_queue("")) + ".+",
            _lit(names.notifier_settled_queue("")) + ".+",
            _SERVER_NAMED,
        ]
        return Permissions(
            configure=_names(*own),
            write=_names(
                *own,
                _lit(names.responses),
                _lit(names.notifications),  # a receiver's fallback
                dlx,
            ),
            read=_names(*own, _lit(names.notifications), _lit(names.events), dlx),
        )
    if role == "gateway":
        own = [_lit(names.reply_queue(HTTP_REPLY_TO)), ns + r"\.gateway\..+"]
        return Permissions(
            configure=_names(*own),
            write=_names(*own, _lit(names.requests), _lit(names.responses), dlx),
            read=_names(*own, _lit(names.outcomes), _lit(names.events)),
            topics=((names.outcomes, "^$", "^" + _lit(HTTP_REPLY_TO) + "$"),),
        )
    raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def rabbitmqctl_lines(user: str, vhost: str, perms: Permissions) -> list[str]:
    """The ``rabbitmqctl`` commands that give ``user`` these permissions on ``vhost``."""
    lines = [
        f"rabbitmqctl set_permissions -p {_quote(vhost)} {_quote(user)} "
        f"{_quote(perms.configure)} {_quote(perms.write)} {_quote(perms.read)}"
    ]
    for exchange, write, read in perms.topics:
        lines.append(
            f"rabbitmqctl set_topic_permissions -p {_quote(vhost)} {_quote(user)} "
            f"{_quote(exchange)} {_quote(write)} {_quote(read)}"
        )
    return lines


def redis_key_pattern(namespace: str) -> str:
    """Every key of the namespace (``hitl.adapters.redis.keys.namespace_prefix``), with the
    glob characters a namespace may hold escaped."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", namespace) + ":*"


def redis_acl_setuser(user: str, password_rule: str, namespace: str) -> list[str]:
    """The ACL SETUSER command of hitl's Redis user: ``password_rule`` is ``>secret`` or
    ``#<sha256 hex>``; the namespace's keys only, no pub/sub, hitl's commands only."""
    return [
        "ACL", "SETUSER", user, "reset", "on", password_rule,
        f"~{redis_key_pattern(namespace)}", "resetchannels", "-@all",
        *(f"+{command}" for command in REDIS_COMMANDS),
    ]  # fmt: skip


def untrusted_answer(
    user_id: str | None, responder: Identity, trusted: frozenset[str]
) -> ErrorDetail | None:
    """Why an answer published by AMQP user ``user_id`` (validated by RabbitMQ) may not say
    it comes from ``responder``; None when it may. A listed service (the gateway, a notifier
    that vouches for its people) may answer as anyone; any other user only as itself (an
    identity whose ``id`` and ``service`` are its user name: a producer cancelling its own
    request)."""
    if user_id is not None and user_id in trusted:
        return None
    if user_id is not None and responder.id == user_id and responder.service == user_id:
        return None
    sender = f"AMQP user {user_id!r}" if user_id else "a message without an AMQP user-id"
    return ErrorDetail(
        code=ErrorCode.NOT_ALLOWED,
        path="user_id",
        message=f"{sender} may not answer as {responder.id!r}: only the services in "
        "trusted_answer_services may speak for a person; others only as themselves",
        allowed=sorted(trusted),
        got=user_id,
    )
