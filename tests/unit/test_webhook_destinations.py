"""The SSRF guard: which addresses a webhook may not reach, and the error that says why."""

import ipaddress
import socket
from collections.abc import Sequence

import pytest

from hitl.errors import Permanent, Retryable
from hitl.notifiers.webhooks.destinations import (
    IPAddress,
    checked_addresses,
    refusal,
    resolve_with_loop,
)


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private (RFC 1918)"),
        ("172.16.0.1", "private (RFC 1918)"),
        ("192.168.1.1", "private (RFC 1918)"),
        ("fd00:ec2::254", "unique local"),  # AWS's IPv6 metadata address
        ("169.254.169.254", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.100.100.200", "carrier-grade NAT"),  # Alibaba Cloud's metadata address
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.10", "not globally routable"),  # documentation
        ("198.18.0.1", "not globally routable"),  # benchmarking
        ("2001:db8::1", "not globally routable"),
        ("fec0::1", "site-local"),
        ("::ffff:127.0.0.1", "loopback, embedded in an IPv6 address"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("2002:a00:1::", "private (RFC 1918), embedded"),  # 6to4 of 10.0.0.1
        ("64:ff9b::a9fe:a9fe", "cloud metadata service), embedded"),  # NAT64 of 169.254.169.254
    ],
)
def test_non_public_addresses_are_refused_by_the_rule_that_applies(address: str, rule: str) -> None:
    found = refusal(ipaddress.ip_address(address))
    assert found is not None and rule in found


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


class Answers:
    """A resolver with fixed answers, counting its calls."""

    def __init__(self, *addresses: str, error: OSError | None = None) -> None:
        self.addresses = [ipaddress.ip_address(a) for a in addresses]
        self.error = error
        self.calls = 0

    async def __call__(self, host: str, port: int) -> Sequence[IPAddress]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.addresses


async def test_a_name_is_refused_naming_it_the_address_and_the_rule() -> None:
    resolver = Answers("93.184.215.14", "169.254.169.254")
    with pytest.raises(Permanent) as caught:
        await checked_addresses("hooks.example.com", 443, resolver, allow_private=False)
    assert str(caught.value).startswith(
        "destination refused: hooks.example.com resolves to 169.254.169.254, link-local "
        "(the cloud metadata service); set allow_private: true"
    )


async def test_an_address_in_the_url_is_checked_without_resolving() -> None:
    resolver = Answers("8.8.8.8")
    with pytest.raises(Permanent, match=r"^destination refused: 10\.0\.0\.7 is private"):
        await checked_addresses("10.0.0.7", 80, resolver, allow_private=False)
    assert await checked_addresses("8.8.4.4", 80, resolver, allow_private=False) == [
        ipaddress.ip_address("8.8.4.4")
    ]
    assert resolver.calls == 0


async def test_allow_private_lets_every_address_through_in_order() -> None:
    resolver = Answers("127.0.0.1", "10.0.0.1")
    found = await checked_addresses("intranet", 80, resolver, allow_private=True)
    assert found == [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.0.0.1")]


async def test_a_name_that_does_not_resolve_now_is_retryable() -> None:
    error = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    with pytest.raises(Retryable, match=r"nowhere\.example does not resolve: .*Temporary failure"):
        await checked_addresses("nowhere.example", 443, Answers(error=error), allow_private=False)
    with pytest.raises(Retryable, match="resolves to no address"):
        await checked_addresses("empty.example", 443, Answers(), allow_private=False)


async def test_the_loop_resolver_answers_addresses_once_each() -> None:
    found = await resolve_with_loop("localhost", 80)
    assert found and all(a.is_loopback for a in found)
    assert len(found) == len(set(found))
