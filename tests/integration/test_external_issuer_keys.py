"""An external issuer's JWKS (OAUTH_JWKS_URL) over real HTTP: cached, and when the identity
provider is down, its failure remembered for a short while so requests fail at once instead of
each waiting for a fetch of its own, while tokens of keys already known keep working.

Time windows are shortened through ExternalKeys' arguments so each test takes under a second
or two; the production defaults are 5 s per fetch and 30 s of remembered failure.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from auth.tokens import KEYS_UNAVAILABLE, ExternalKeys, InvalidToken, TokenVerifier

ISSUER = "https://idp.example/"
AUDIENCE = "ledgerline"
# How fast "at once" is: far under any fetch timeout, generous for a busy 2-core machine.
AT_ONCE_SECONDS = 0.2


class IdentityProvider:
    """A JWKS endpoint on 127.0.0.1 whose answer the test chooses, counting what it is asked."""

    def __init__(self, key: ECKey) -> None:
        self.answer = "keys"
        self.requests = 0
        self._jwks = {"keys": [{**key.as_dict(private=False), "alg": "ES256", "use": "sig"}]}
        self._release = threading.Event()
        self._counting = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                with provider._counting:
                    provider.requests += 1
                provider.respond(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def respond(self, handler: BaseHTTPRequestHandler) -> None:
        if self.answer == "hang":
            self._release.wait(10)
            return
        status, body = {
            "keys": (200, json.dumps(self._jwks)),
            "server-error": (500, '{"error": "down for maintenance"}'),
            "not-json": (200, "<html>gateway timeout</html>"),
            "not-a-key-set": (200, '{"keys": 5}'),
            "no-keys": (200, '{"keys": []}'),
        }[self.answer]
        encoded = body.encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(encoded)))
        handler.end_headers()
        handler.wfile.write(encoded)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/.well-known/jwks.json"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def idp_key() -> ECKey:
    return ECKey.generate_key("P-256", auto_kid=True)


@pytest.fixture
def provider(idp_key: ECKey) -> Iterator[IdentityProvider]:
    running = IdentityProvider(idp_key)
    running.start()
    yield running
    running.stop()


def closed_port_url() -> str:
    """A URL nothing listens on: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/.well-known/jwks.json"


def verifier_for(url: str, **timing: float) -> TokenVerifier:
    own = KeySet([ECKey.generate_key("P-256", auto_kid=True)])
    return TokenVerifier(own, ISSUER, AUDIENCE, ExternalKeys(url, **timing))


def token_signed_by(key: ECKey, client_id: str = "idp-client") -> str:
    """A valid token of the provider's; a distinct client_id makes a distinct token, which
    the verifier's cache of checked tokens has not seen."""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": client_id,
        "tenant": "t-idp",
        "scope": "customers:read",
        "iat": now,
        "exp": now + 300,
    }
    return jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key)


def stranger_token() -> str:
    """A token whose kid the provider never published: it asks for a refresh of the keys."""
    return token_signed_by(ECKey.generate_key("P-256", auto_kid=True))


async def refused_within(verifier: TokenVerifier, token: str) -> float:
    """Seconds until `verify` refused `token` because the provider's keys are unavailable."""
    started = time.monotonic()
    with pytest.raises(InvalidToken) as refused:
        await verifier.verify(token)
    assert str(refused.value) == KEYS_UNAVAILABLE
    return time.monotonic() - started


@pytest.mark.parametrize(
    "answer", ["server-error", "not-json", "not-a-key-set", "no-keys", "connection-refused"]
)
async def test_a_failed_fetch_is_remembered_and_later_tokens_are_refused_without_fetching(
    provider: IdentityProvider, answer: str
) -> None:
    # given
    if answer == "connection-refused":
        url = closed_port_url()
    else:
        provider.answer = answer
        url = provider.url
    verifier = verifier_for(url, failure_memory_seconds=30)
    await refused_within(verifier, stranger_token())
    # when
    waits = [await refused_within(verifier, stranger_token()) for _ in range(10)]
    # then
    assert provider.requests == (0 if answer == "connection-refused" else 1)
    assert max(waits) < AT_ONCE_SECONDS


async def test_concurrent_tokens_during_a_hanging_fetch_wait_for_that_one_fetch_only(
    provider: IdentityProvider,
) -> None:
    # given a provider that never answers: each fetch lasts the whole fetch timeout
    provider.answer = "hang"
    verifier = verifier_for(provider.url, fetch_timeout_seconds=0.5, failure_memory_seconds=30)
    # when
    started = time.monotonic()
    waits = await asyncio.gather(*(refused_within(verifier, stranger_token()) for _ in range(10)))
    elapsed = time.monotonic() - started
    # then (one timeout in all, not ten in turn behind the lock)
    assert provider.requests == 1
    assert max(waits) < 1.5
    assert elapsed < 1.5
    assert await refused_within(verifier, stranger_token()) < AT_ONCE_SECONDS


async def test_after_the_window_the_provider_is_asked_again_and_its_keys_serve(
    provider: IdentityProvider, idp_key: ECKey
) -> None:
    # given a failure, remembered for 0.3 s
    provider.answer = "server-error"
    verifier = verifier_for(provider.url, failure_memory_seconds=0.3)
    await refused_within(verifier, token_signed_by(idp_key, "first"))
    # when the provider is back, within the window and after it
    provider.answer = "keys"
    within = await refused_within(verifier, token_signed_by(idp_key, "second"))
    await asyncio.sleep(0.35)
    principal = await verifier.verify(token_signed_by(idp_key, "third"))
    # then
    assert within < AT_ONCE_SECONDS
    assert principal.client_id == "third"
    assert provider.requests == 2


async def test_known_kid_keeps_working_with_the_last_good_keys_while_the_provider_is_down(
    provider: IdentityProvider, idp_key: ECKey
) -> None:
    # given keys fetched once, then stale (ttl 0.2 s) while the provider fails
    verifier = verifier_for(provider.url, ttl_seconds=0.2, failure_memory_seconds=30)
    await verifier.verify(token_signed_by(idp_key, "before"))
    provider.answer = "server-error"
    await asyncio.sleep(0.25)
    # when
    during = await verifier.verify(token_signed_by(idp_key, "during"))
    later = await verifier.verify(token_signed_by(idp_key, "later"))
    unknown_wait = await refused_within(verifier, stranger_token())
    # then (one failed refresh; the known kid served from the last good set, the unknown one
    # refused at once)
    assert (during.client_id, later.client_id) == ("during", "later")
    assert provider.requests == 2
    assert unknown_wait < AT_ONCE_SECONDS


async def test_known_kid_does_not_wait_for_a_refresh_already_under_way(
    provider: IdentityProvider, idp_key: ECKey
) -> None:
    # given stale keys and a refresh hanging on the provider
    verifier = verifier_for(provider.url, ttl_seconds=0.1, fetch_timeout_seconds=1.0)
    await verifier.verify(token_signed_by(idp_key, "before"))
    provider.answer = "hang"
    await asyncio.sleep(0.15)
    refreshing = asyncio.create_task(verifier.verify(token_signed_by(idp_key, "refreshing")))
    await asyncio.sleep(0.05)
    # when
    started = time.monotonic()
    meanwhile = await verifier.verify(token_signed_by(idp_key, "meanwhile"))
    waited = time.monotonic() - started
    # then
    assert meanwhile.client_id == "meanwhile"
    assert waited < AT_ONCE_SECONDS
    assert (await refreshing).client_id == "refreshing"
    assert provider.requests == 2


async def test_the_last_good_keys_stop_standing_in_past_their_stale_if_error_bound(
    provider: IdentityProvider, idp_key: ECKey
) -> None:
    # given keys fresh for 0.1 s and allowed to stand in for 0.2 s more
    verifier = verifier_for(
        provider.url, ttl_seconds=0.1, stale_if_error_seconds=0.2, failure_memory_seconds=30
    )
    await verifier.verify(token_signed_by(idp_key, "before"))
    provider.answer = "server-error"
    # when
    await asyncio.sleep(0.35)
    await refused_within(verifier, token_signed_by(idp_key, "after"))
    # then
    assert provider.requests == 2
