"""HITL_AMQP_URL as a list of cluster nodes: what is accepted, what fails at start and how the
error names the setting, and the aio-pika hook the cluster connection relies on."""

import re

import pytest
from aio_pika import RobustConnection
from pydantic import ValidationError

from hitl.adapters.amqp.connection import ClusterConnection
from hitl.errors import ConfigError
from hitl.runtime.startup import connect_amqp
from hitl.settings import Settings, amqp_urls, safe_url

A = "amqp://hitl:pw@rabbit-1:5672/prod"
B = "amqp://hitl:pw@rabbit-2:5672/prod"


def test_one_url_is_a_list_of_one_and_several_keep_their_order() -> None:
    assert Settings(amqp_url=A).amqp_urls == (A,)
    assert Settings(amqp_url=f"{B}, {A}").amqp_urls == (B, A)


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (f"{A},", "URL 2 of 2 is empty (a stray comma?)"),
        (f"{A},{A}", "URL 2 of 2 names the same node as URL 1"),
        (f"{A},http://rabbit-2/", "URL 2 of 2 (http://rabbit-2/) is not a URL starting amqp://"),
        (f"{A},{B.replace('amqp:', 'amqps:')}", "URL 2 of 2 has scheme 'amqps' but URL 1"),
        (f"{A},{B.replace('hitl:', 'other:')}", "URL 2 of 2 has user 'other' but URL 1"),
        (f"{A},{B.replace('/prod', '/dev')}", "URL 2 of 2 has vhost 'dev' but URL 1 has 'prod'"),
        ("rabbit-1:5672", "not a URL starting amqp:// or amqps://"),
    ],
)
def test_a_bad_list_is_refused_saying_which_url_and_why(given: str, said: str) -> None:
    with pytest.raises(ValueError, match=re.escape(said)):
        amqp_urls(given)
    with pytest.raises(ValidationError, match="amqp_url"):
        Settings(amqp_url=given)


async def test_the_sdk_gets_a_config_error_naming_the_setting_before_connecting() -> None:
    with pytest.raises(ConfigError, match="HITL_AMQP_URL: URL 2 of 2 is empty"):
        await connect_amqp(f"{A},", 1, name="t", setting="HITL_AMQP_URL")


def test_no_password_of_any_node_in_logs() -> None:
    assert safe_url(f"{A},{B}") == (
        "amqp://hitl:***@rabbit-1:5672/prod,amqp://hitl:***@rabbit-2:5672/prod"
    )


def test_the_aio_pika_hook_the_cluster_connection_wraps_still_exists() -> None:
    # ClusterConnection picks each attempt's node in RobustConnection's private connect step;
    # an aio-pika that renames it would silently stop failing over: fail here instead.
    hook = "_RobustConnection__connect_transport"
    assert callable(getattr(RobustConnection, hook, None))
    assert hook in ClusterConnection.__dict__
