"""Where webhooks may be sent: the one check, made when an endpoint is created and again by
the delivery worker before each delivery (what a host name resolves to can change).

In production a destination must be https and every address its host resolves to must be
on the public internet (domain.webhooks.is_forbidden_address): a webhook URL is a request
the merchant makes our servers send, and pointed at 127.0.0.1, a private network or a cloud
metadata service it would reach what only we should (server-side request forgery). In
development http and local receivers are allowed, to try webhooks on a laptop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from domain.webhooks import (
    Destination,
    is_forbidden_address,
    parse_destination,
    scheme_refusal,
)

# (host, port) -> the addresses it resolves to, as text. Tests pass their own.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
RESOLVE_TIMEOUT_SECONDS = 5.0


async def resolve_host(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for `host` (every family)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class WebhookDestinations:
    """domain.webhooks.DestinationPolicy for this deployment."""

    def __init__(self, *, production: bool, resolve: Resolver = resolve_host) -> None:
        self._production = production
        self._resolve = resolve

    async def refusal(self, url: str) -> str | None:
        return (await self.checked(url)).refusal

    async def checked(self, url: str) -> CheckedDestination:
        """The URL's destination and, in production, the public address to connect to
        (every address its host resolves to was checked); or why it may not be sent to.
        The delivery worker connects to that address, so a name that resolves again to
        something else between the check and the connection (DNS rebinding) cannot move
        the request."""
        try:
            destination = parse_destination(url)
        except ValueError as exc:
            return CheckedDestination(None, None, str(exc))
        reason = scheme_refusal(destination, production=self._production)
        if reason is not None or not self._production:
            return CheckedDestination(destination, None, reason)
        return await self._address_check(destination)

    async def _address_check(self, destination: Destination) -> CheckedDestination:
        def refused(reason: str) -> CheckedDestination:
            return CheckedDestination(destination, None, reason)

        try:
            addresses: Sequence[str] = [str(ipaddress.ip_address(destination.host))]
        except ValueError:  # a name, not an address
            try:
                async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
                    addresses = await self._resolve(destination.host, destination.port)
            except (OSError, TimeoutError):
                return refused("The URL's host does not resolve.")
        if not addresses:
            return refused("The URL's host does not resolve.")
        for text in addresses:
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                return refused("The URL's host resolves to an address that cannot be checked.")
            if is_forbidden_address(address):
                # The address is not named: the answer would map the network for a prober.
                return refused(
                    "The URL's host resolves to a private, loopback, link-local or "
                    "otherwise non-public address."
                )
        return CheckedDestination(destination, str(ipaddress.ip_address(addresses[0])), None)


@dataclass(frozen=True, slots=True)
class CheckedDestination:
    destination: Destination | None
    # The checked address to connect to (production); None: connect by name (development).
    address: str | None
    refusal: str | None
