"""Clients of a chaos scenario: raw HTTP/1.1 over TCP, so a disconnect is a real one, and a
ledger of what every client was told.

Each request opens its own connection (`Connection: close`): a client that goes away
takes exactly one request with it, and a server that broke a connection cannot hide it
behind keep-alive.
"""

from __future__ import annotations

import asyncio
import enum
import random
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

ANSWER_TIMEOUT = 25.0  # longer than the default statement timeout (15 s)

CUSTOMERS = """
query Customers($search: String) {
  customers(first: 100, filter: {search: $search}) {
    totalCount
    edges { node { id name email currency externalId metadata createdAt updatedAt } }
  }
}
"""
# Readable and forbidden fields side by side, with a token that has customers:read only:
# graphql-core cancels the readable sibling when the forbidden (non-null) one fails.
PARTLY_FORBIDDEN = "{ customers(first: 5) { totalCount } plans(first: 5) { totalCount } }"
CREATE_CUSTOMER = """
mutation Create($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id name }
    userErrors { code field message }
  }
}
"""


class Operation(enum.Enum):
    READ = "customers read"
    PARTLY_FORBIDDEN = "partly forbidden read"
    CREATE = "createCustomer"


class Cut(enum.Enum):
    """Where a client goes away."""

    MID_BODY = "closed while sending the body"
    BEFORE_ANSWER = "closed after sending, before the answer"
    MID_ANSWER = "closed while reading the answer"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        """The decoded body, or None when it is not JSON."""
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None

    def codes(self) -> list[str | None]:
        payload = self.json()
        errors = payload.get("errors") if isinstance(payload, dict) else None
        return [(e.get("extensions") or {}).get("code") for e in errors or []]

    def describe(self) -> str:
        return f"{self.status} {self.headers.get('content-type', '?')} {self.body[:300]!r}"


class NoAnswer(Exception):
    """The client waited for an answer and got none (reset, timeout, truncated)."""


@dataclass
class Sent:
    """One request and what came of it."""

    operation: Operation
    cut: Cut | None
    started: float
    elapsed: float = 0.0
    answer: Answer | None = None
    no_answer: str | None = None  # why, when the client waited and got nothing
    key: str | None = None
    retry: bool = False

    def describe(self) -> str:
        what = self.operation.value + (" (retry)" if self.retry else "")
        if self.answer is not None:
            return f"{what}: {self.answer.describe()}"
        return f"{what}: no answer ({self.no_answer or self.cut})"


def _dechunk(body: bytes) -> bytes:
    out, rest = b"", body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out, rest = out + rest[:size], rest[size + 2 :]
    raise NoAnswer("truncated chunked body")


def parse_answer(raw: bytes) -> Answer:
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        raise NoAnswer(f"no complete HTTP head in {raw[:200]!r}")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise NoAnswer(f"bad status line {status_line!r}")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if len(body) < length:
            raise NoAnswer(f"body truncated at {len(body)} of {length} bytes")
        body = body[:length]
    return Answer(int(parts[1]), headers, body)


async def exchange(
    port: int,
    body: bytes,
    headers: dict[str, str],
    *,
    cut: Cut | None = None,
    path: str = "/graphql",
    timeout: float = ANSWER_TIMEOUT,
) -> Answer | None:
    """POST `body`; the answer, or None when the client cut the exchange on purpose."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if cut is Cut.MID_ANSWER:
        # A small receive window: the server is still writing when the client goes away.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise NoAnswer(f"connect: {exc}") from None
    reader, writer = await asyncio.open_connection(sock=sock)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        + "\r\n"
    ).encode()
    try:
        if cut is Cut.MID_BODY:
            writer.write(head + body[: len(body) // 2])
            await writer.drain()
            await asyncio.sleep(random.uniform(0, 0.02))
            return None
        writer.write(head + body)
        await writer.drain()
        if cut is Cut.BEFORE_ANSWER:
            # Long enough, often, for the request to be running when the client goes.
            await asyncio.sleep(random.uniform(0, 0.05))
            return None
        if cut is Cut.MID_ANSWER:
            await asyncio.wait_for(reader.read(64), timeout)
            return None
        raw = await asyncio.wait_for(reader.read(), timeout)
    except TimeoutError:
        raise NoAnswer(f"no answer within {timeout} s") from None
    except OSError as exc:
        raise NoAnswer(f"{type(exc).__name__}: {exc}") from None
    finally:
        writer.close()
    return parse_answer(raw)


@dataclass
class Creation:
    """One createCustomer a client means to make exactly once, under one Idempotency-Key."""

    key: str
    name: str
    customer_id: str | None = None  # what the client was told it created
    answers: list[bytes] = field(default_factory=list)  # bodies of successful answers


def created_id(answer: Answer | None) -> str | None:
    """The customer id of a successful createCustomer answer, else None."""
    if answer is None or answer.status != 200:
        return None
    payload = answer.json()
    if not isinstance(payload, dict) or payload.get("errors"):
        return None
    created = (payload.get("data") or {}).get("createCustomer") or {}
    if created.get("userErrors") or not created.get("customer"):
        return None
    return created["customer"]["id"]


@dataclass(frozen=True)
class Mix:
    """Share of each operation, and of requests whose client goes away."""

    create: float = 0.45
    partly_forbidden: float = 0.1
    cut: float = 0.0


class Traffic:
    """The requests of one scenario: what was sent, what came back, what was created."""

    def __init__(self, port: int, token: str, read_only_token: str, scenario: str) -> None:
        self.port = port
        self.token = token
        self.read_only_token = read_only_token
        # Names and keys of this scenario, so its customers can be counted apart.
        self.prefix = f"chaos-{scenario}-{secrets.token_hex(3)}"
        self.sent: list[Sent] = []
        self.creations: dict[str, Creation] = {}
        self._numbers = iter(range(1_000_000))

    def _request(self, operation: Operation) -> tuple[bytes, dict[str, str], str | None]:
        if operation is Operation.PARTLY_FORBIDDEN:
            body = orjson.dumps({"query": PARTLY_FORBIDDEN})
            return body, {"Authorization": f"Bearer {self.read_only_token}"}, None
        bearer = {"Authorization": f"Bearer {self.token}"}
        if operation is Operation.READ:
            body = orjson.dumps({"query": CUSTOMERS, "variables": {"search": self.prefix}})
            return body, bearer, None
        number = next(self._numbers)
        creation = Creation(key=f"{self.prefix}-key-{number}", name=f"{self.prefix} {number:05d}")
        self.creations[creation.key] = creation
        return (
            self._create_body(creation),
            {**bearer, "Idempotency-Key": creation.key},
            creation.key,
        )

    def _create_body(self, creation: Creation) -> bytes:
        variables = {"input": {"name": creation.name, "currency": "EUR"}}
        return orjson.dumps({"query": CREATE_CUSTOMER, "variables": variables})

    async def send(self, operation: Operation, cut: Cut | None = None) -> Sent:
        body, headers, key = self._request(operation)
        return await self._send(operation, body, headers, cut=cut, key=key)

    async def _send(
        self,
        operation: Operation,
        body: bytes,
        headers: dict[str, str],
        *,
        cut: Cut | None,
        key: str | None,
        retry: bool = False,
    ) -> Sent:
        sent = Sent(operation, cut, started=time.monotonic(), key=key, retry=retry)
        self.sent.append(sent)
        try:
            sent.answer = await exchange(self.port, body, headers, cut=cut)
        except NoAnswer as exc:
            sent.no_answer = str(exc)
        sent.elapsed = time.monotonic() - sent.started
        customer_id = created_id(sent.answer)
        if key is not None and sent.answer is not None and customer_id is not None:
            creation = self.creations[key]
            creation.answers.append(sent.answer.body)
            creation.customer_id = creation.customer_id or customer_id
        return sent

    async def resend(self, creation: Creation) -> Sent:
        """The same createCustomer again, under the same Idempotency-Key."""
        headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": creation.key}
        return await self._send(
            Operation.CREATE,
            self._create_body(creation),
            headers,
            cut=None,
            key=creation.key,
            retry=True,
        )

    async def run(
        self,
        *,
        clients: int = 16,
        requests: int | None = 200,
        mix: Mix = Mix(),
        pause: float = 0.0,
        until: Callable[[], bool] | None = None,
        seed: int = 12,
    ) -> None:
        """`clients` concurrent clients send `requests` in all, or, with `until`, keep
        sending (each pausing `pause` s between requests) until it says stop."""
        chooser = random.Random(seed)
        budget = iter(range(requests if requests is not None else 0))

        def more() -> bool:
            if until is not None:
                return not until()
            return next(budget, None) is not None

        async def client() -> None:
            while more():
                roll = chooser.random()
                if roll < mix.create:
                    operation = Operation.CREATE
                elif roll < mix.create + mix.partly_forbidden:
                    operation = Operation.PARTLY_FORBIDDEN
                else:
                    operation = Operation.READ
                cut = chooser.choice(list(Cut)) if chooser.random() < mix.cut else None
                await self.send(operation, cut)
                if pause:
                    await asyncio.sleep(pause)

        await asyncio.gather(*(client() for _ in range(clients)))

    def answered(self) -> list[Sent]:
        return [sent for sent in self.sent if sent.answer is not None]


async def poll(check: Callable[[], Awaitable[bool]], timeout: float, every: float = 0.1) -> bool:
    """True as soon as `check()` is; False when `timeout` s passed without it."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(every)
