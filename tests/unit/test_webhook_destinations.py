"""Where webhooks may be sent (SECURITY.md, server-side request forgery): the address
classification, and the one destination check the API and the delivery worker share,
with a stub resolver (no real DNS)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.webhooks import is_forbidden_address, parse_destination
from infra.webhooks.destinations import WebhookDestinations

FORBIDDEN = [
    "127.0.0.1",
    "127.8.9.10",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.170.2",
    "100.100.100.200",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"]


@pytest.mark.parametrize("text", FORBIDDEN)
def test_non_public_and_metadata_addresses_are_forbidden(text: str) -> None:
    assert is_forbidden_address(ipaddress.ip_address(text))


@pytest.mark.parametrize("text", PUBLIC)
def test_public_addresses_are_allowed(text: str) -> None:
    assert not is_forbidden_address(ipaddress.ip_address(text))


@given(st.ip_addresses(v=4))
def test_an_ipv4_address_mapped_into_ipv6_is_judged_as_itself(
    address: ipaddress.IPv4Address,
) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    if is_forbidden_address(address):
        assert is_forbidden_address(mapped)


class StubResolver:
    """Answers from a table and records what it was asked."""

    def __init__(self, answers: dict[str, Sequence[str]]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append((host, port))
        if host not in self.answers:
            raise OSError("no such host")
        return self.answers[host]


RESOLVER_ANSWERS = {
    "hooks.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "internal.example.com": ["10.0.0.7"],
    "mixed.example.com": ["93.184.216.34", "127.0.0.1"],
    "localhost": ["127.0.0.1", "::1"],
    "metadata.example.com": ["169.254.169.254"],
}


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/in",
        "https://internal.example.com/in",
        "https://mixed.example.com/in",
        "https://localhost:8443/in",
        "https://metadata.example.com/latest/meta-data",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00:ec2::254]/",
        "https://[::ffff:10.0.0.1]/",
        "https://unknown.example.com/in",
        "ftp://hooks.example.com/in",
    ],
)
async def test_production_refuses_what_is_not_https_to_public_addresses(url: str) -> None:
    # given
    destinations = WebhookDestinations(production=True, resolve=StubResolver(RESOLVER_ANSWERS))
    # then
    assert await destinations.refusal(url) is not None


async def test_production_allows_https_to_a_host_with_public_addresses_only() -> None:
    # given
    resolver = StubResolver(RESOLVER_ANSWERS)
    destinations = WebhookDestinations(production=True, resolve=resolver)
    # when
    refusal = await destinations.refusal("https://hooks.example.com:8443/in?k=1")
    # then
    assert refusal is None
    assert resolver.asked == [("hooks.example.com", 8443)]


async def test_a_literal_address_is_judged_without_asking_the_resolver() -> None:
    # given
    resolver = StubResolver({})
    destinations = WebhookDestinations(production=True, resolve=resolver)
    # then
    assert await destinations.refusal("https://93.184.216.34/in") is None
    assert await destinations.refusal("https://[::1]/in") is not None
    assert resolver.asked == []


async def test_development_allows_http_and_local_receivers_without_resolving() -> None:
    # given
    resolver = StubResolver(RESOLVER_ANSWERS)
    destinations = WebhookDestinations(production=False, resolve=resolver)
    # then
    assert await destinations.refusal("http://localhost:9000/hooks") is None
    assert await destinations.refusal("http://127.0.0.1:9000/hooks") is None
    assert await destinations.refusal("ftp://localhost/") is not None
    assert resolver.asked == []


@pytest.mark.parametrize(
    "url",
    ["hooks.example.com/in", "https://", "https://user:pw@hooks.example.com/", "https://a b/"],
)
def test_urls_without_an_http_destination_do_not_parse(url: str) -> None:
    with pytest.raises(ValueError):
        parse_destination(url)
