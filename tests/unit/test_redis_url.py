"""HITL_REDIS_URL: one node, Sentinel or Cluster, and the errors a wrong one gets at start."""

import pytest

from hitl.cli.config import load_settings
from hitl.cli.errors import Usage
from hitl.core.redis_url import RedisDeployment, redis_deployment
from hitl.settings import Settings


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", RedisDeployment("single", tls=False)),
        ("rediss://cache.example:6380/1", RedisDeployment("single", tls=True)),
        ("unix:///run/redis.sock?db=2", RedisDeployment("single", tls=False)),
        (
            "redis+sentinel://hitl:p%40ss@s1:26379,s2,[::1]:26380/mymaster/3",
            RedisDeployment(
                "sentinel",
                tls=False,
                nodes=(("s1", 26379), ("s2", 26379), ("::1", 26380)),
                master="mymaster",
                db=3,
                username="hitl",
                password="p@ss",
            ),
        ),
        (
            "rediss+cluster://:secret@n1:7000,n2",
            RedisDeployment(
                "cluster", tls=True, nodes=(("n1", 7000), ("n2", 6379)), password="secret"
            ),
        ),
        ("redis+cluster://n1:7000/0", RedisDeployment("cluster", False, (("n1", 7000),))),
    ],
)
def test_each_deployment_is_read_from_its_url(url: str, expected: RedisDeployment) -> None:
    assert redis_deployment(url) == expected


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://redis:6379", "not a URL starting redis://"),
        ("redis+proxy://a:1", "unknown scheme 'redis+proxy://'"),
        ("redis+sentinel://s1:26379,s2:26379", "the primary's name is missing"),
        ("redis+sentinel://s1/m/x", "the database is a number, not 'x'"),
        ("redis+sentinel://s1/m/0/extra", "the path is /<master>[/<db>]"),
        ("redis+cluster://n1:7000/2", "a Redis Cluster has only database 0"),
        ("redis+cluster://n1:7000,,n2", "host 2 is empty"),
        ("redis+cluster://n1:port", "host 1 ('n1:port') has a port that is not a number"),
        ("redis+cluster://n1:7000,n1:7000", "host 2 ('n1:7000') is given twice"),
        ("redis+cluster://", "no host given"),
        ("redis+cluster://n1?timeout=1", "takes no ?options"),
    ],
)
def test_a_wrong_url_says_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=None) as raised:
        redis_deployment(url)
    assert says in str(raised.value)


def test_the_setting_is_named_and_the_password_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HITL_REDIS_URL", "redis+sentinel://hitl:hunter2@s1:26379")
    with pytest.raises(Usage) as raised:
        load_settings()
    said = str(raised.value)
    assert "HITL_REDIS_URL=" in said and "the primary's name is missing" in said
    assert "hunter2" not in said


def test_wait_and_the_sentinels_password_are_settings() -> None:
    settings = Settings(
        redis_url="redis+sentinel://s1,s2,s3/hitl",
        redis_sentinel_password="x",  # type: ignore[arg-type]
        redis_wait_replicas=1,
    )
    assert settings.redis_deployment.master == "hitl" and settings.redis_wait_replicas == 1
    with pytest.raises(ValueError, match="redis_url is not redis\\+sentinel://"):
        Settings(redis_sentinel_password="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="redis_ca_file is set but redis_url is not rediss://"):
        Settings(redis_url="redis+cluster://n1", redis_ca_file="/ca.pem")
    assert Settings(redis_url="rediss+cluster://n1", redis_ca_file="/ca.pem").redis_ca_file
