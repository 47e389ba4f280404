"""Where a webhook may go: the guard against server-side request forgery (SSRF).

A receiver's URL names a host, but what a request reaches is the address it connects to. So
the host is resolved when a webhook is sent, every address it resolves to is checked, and the
request then goes to a checked address itself (the channel puts the name in the Host header
and in TLS's SNI, so the certificate is still verified against the name). The name is never
resolved a second time for the connection: a name that answers a public address to the check
and a private one afterwards (DNS rebinding) gets no chance to give its second answer.

Refused, unless the receiver says ``allow_private: true``: loopback, private (RFC 1918, unique
local), link-local (with the cloud metadata service at 169.254.169.254), multicast,
unspecified, shared (carrier-grade NAT) and every other address that is not globally routable.
An IPv4 address inside an IPv6 one (mapped, 6to4, NAT64) is judged as that IPv4 address.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from typing import Protocol

from hitl.errors import Permanent, Retryable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_METADATA = ipaddress.IPv4Address("169.254.169.254")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
_RFC1918 = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class Resolver(Protocol):
    """The addresses ``host`` resolves to, best first; ``OSError`` when it does not resolve."""

    async def __call__(self, host: str, port: int) -> Sequence[IPAddress]: ...


async def resolve_with_loop(host: str, port: int) -> list[IPAddress]:
    """``Resolver`` by the event loop's ``getaddrinfo`` (the system resolver, in a thread).
    AI_ADDRCONFIG: no IPv6 addresses on a host without IPv6, where they could not be reached."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_ADDRCONFIG
    )
    found: dict[IPAddress, None] = {}  # in order, without repeats
    for *_, sockaddr in infos:
        found[ipaddress.ip_address(sockaddr[0])] = None
    return list(found)


def refusal(address: IPAddress) -> str | None:
    """The rule that forbids sending to ``address``, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or _nat64(address)
        if embedded is not None:  # ::ffff:127.0.0.1 connects to 127.0.0.1
            inner = refusal(embedded)
            return None if inner is None else f"{inner}, embedded in an IPv6 address"
        if address.is_site_local:
            return "site-local (fec0::/10)"
    if address == _METADATA:
        return "link-local (the cloud metadata service)"
    for rule, applies in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private (RFC 1918)", any(address in net for net in _RFC1918)),
        ("unique local (fc00::/7)", address in _UNIQUE_LOCAL),
        ("shared address space (carrier-grade NAT, 100.64.0.0/10)", address in _SHARED),
        ("reserved", address.is_reserved),
        ("not globally routable", address.is_private or not address.is_global),
    ):
        if applies:
            return rule
    return None


def _nat64(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address behind one of DNS64's well-known prefix (RFC 6052), which an IPv6-only
    network uses for every IPv4 host: judged by the host, not refused as reserved."""
    if address not in _NAT64:
        return None
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


async def checked_addresses(
    host: str, port: int, resolver: Resolver, *, allow_private: bool
) -> list[IPAddress]:
    """The addresses a request to ``host`` may connect to, best first. ``Permanent`` naming
    the rule and the address when any of them is refused (a name with one private address is
    not half safe); ``Retryable`` when the name does not resolve now."""
    addresses = await _addresses(host, port, resolver)
    if allow_private:
        return addresses
    for address in addresses:
        rule = refusal(address)
        if rule is not None:
            what = f"{host} is" if str(address) == host else f"{host} resolves to {address},"
            raise Permanent(
                f"destination refused: {what} {rule}; set allow_private: true on the "
                "receiver to send there"
            )
    return addresses


async def _addresses(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass  # a name
    try:
        addresses = list(await resolver(host, port))
    except OSError as exc:  # socket.gaierror: unknown name, or no DNS answer now
        raise Retryable(f"{host} does not resolve: {exc}") from exc
    if not addresses:
        raise Retryable(f"{host} resolves to no address")
    return addresses
