"""What ``HITL_REDIS_URL`` names: one Redis node, the primary a set of Sentinels watches, or a
Redis Cluster. Pure parsing: ``hitl.adapters.redis.connection`` opens what it says.

- ``redis://[user:password@]host[:port][/db]``, ``rediss://...``, ``unix:///path?db=N``: one
  node, as redis-py reads the URL;
- ``redis+sentinel://[user:password@]sentinel[:port][,sentinel[:port]...]/<master>[/db]``: the
  primary the Sentinels know as ``<master>``, found through them and followed after a
  failover; the user and password are the data nodes' (``HITL_REDIS_SENTINEL_PASSWORD`` is
  the Sentinels' own, when they ask for one); default port 26379;
- ``redis+cluster://[user:password@]node[:port][,node[:port]...]``: a Redis Cluster, the nodes
  given being where its map of slots is first read (one is enough, more in case one is
  down); default port 6379; database 0 only.

``rediss+sentinel://`` and ``rediss+cluster://`` are the same over TLS.
"""

from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

Kind = Literal["single", "sentinel", "cluster"]
SINGLE_SCHEMES = ("redis", "rediss", "unix")
_MANY = {"sentinel": 26379, "cluster": 6379}  # default ports
EXAMPLES = {
    "sentinel": "redis+sentinel://sentinel-1:26379,sentinel-2:26379,sentinel-3:26379/mymaster",
    "cluster": "redis+cluster://redis-1:6379,redis-2:6379,redis-3:6379",
}


@dataclass(frozen=True, slots=True)
class RedisDeployment:
    kind: Kind
    tls: bool
    nodes: tuple[tuple[str, int], ...] = ()  # the Sentinels, or the Cluster's seed nodes
    master: str = ""  # the Sentinels' name of the primary
    db: int = 0
    username: str | None = None
    password: str | None = None


def redis_deployment(url: str) -> RedisDeployment:
    """Parse ``url``; ``ValueError`` says what is wrong and how a right one looks."""
    scheme, sep, rest = url.partition("://")
    base, plus, kind = scheme.partition("+")
    if not plus:
        parts = urlsplit(url)
        if scheme not in SINGLE_SCHEMES or not sep or not (parts.hostname or scheme == "unix"):
            raise ValueError(
                "not a URL starting redis://, rediss:// or unix:// (one node), "
                "redis+sentinel:// or redis+cluster:// (and rediss+... over TLS)"
            )
        return RedisDeployment("single", tls=scheme == "rediss")
    if base not in ("redis", "rediss") or kind not in _MANY or not sep:
        raise ValueError(
            f"unknown scheme {scheme + '://'!r}: one of redis+sentinel://, rediss+sentinel://, "
            "redis+cluster://, rediss+cluster://"
        )
    example = EXAMPLES[kind]
    location, _, query = rest.partition("?")
    if query or "#" in location:
        raise ValueError(f"{scheme}:// takes no ?options or #fragment; e.g. {example}")
    netloc, _, path = location.partition("/")
    credentials, at, hosts = netloc.rpartition("@")
    username, password = _credentials(credentials) if at else (None, None)
    nodes = _nodes(hosts, _MANY[kind], example)
    names = [p for p in path.split("/") if p]
    if kind == "sentinel":
        if not names:
            raise ValueError(f"the primary's name is missing, as the path: {example}")
        if len(names) > 2:
            raise ValueError(f"the path is /<master>[/<db>], not /{path}: {example}")
        db = _db(names[1]) if len(names) == 2 else 0
        return RedisDeployment(
            "sentinel", base == "rediss", nodes, unquote(names[0]), db, username, password
        )
    if names and names != ["0"]:
        raise ValueError(f"a Redis Cluster has only database 0, not /{path}: {example}")
    return RedisDeployment("cluster", base == "rediss", nodes, "", 0, username, password)


def _credentials(text: str) -> tuple[str | None, str | None]:
    user, colon, password = text.partition(":")
    return (unquote(user) or None), (unquote(password) if colon else None)


def _nodes(hosts: str, default_port: int, example: str) -> tuple[tuple[str, int], ...]:
    if not hosts:
        raise ValueError(f"no host given: {example}")
    nodes: list[tuple[str, int]] = []
    for number, entry in enumerate(hosts.split(","), 1):
        if not entry:
            raise ValueError(f"host {number} is empty (a stray comma?): {example}")
        parts = urlsplit(f"//{entry}")
        try:
            port = parts.port or default_port
        except ValueError:
            raise ValueError(f"host {number} ({entry!r}) has a port that is not a number") from None
        if not parts.hostname:
            raise ValueError(f"host {number} ({entry!r}) names no host: {example}")
        node = (parts.hostname, port)
        if node in nodes:
            raise ValueError(f"host {number} ({entry!r}) is given twice")
        nodes.append(node)
    return tuple(nodes)


def _db(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"the database is a number, not {text!r}")
    return int(text)
