"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 (uvicorn, in a thread of
the test process) that records every request and answers as the test says.

`answer(path, count)` gets the request's path and how many requests that path has had
(this one included) and returns the status to answer, or None to never answer.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import uvicorn

from tests.support.server_process import free_port

Answer = Callable[[str, int], int | None]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None  # what the receiver answered; None: nothing
    client_port: int  # which connection it came on

    @property
    def event(self) -> dict[str, Any]:
        decoded: dict[str, Any] = orjson.loads(self.body)
        return decoded


class Receiver:
    def __init__(self, answer: Answer, delay: float = 0.0) -> None:
        self.answer = answer
        self.delay = delay
        self.received: list[Received] = []
        # (path, webhook-id) of every request answered 200, kept as they come: waiting on
        # it costs nothing while tens of thousands arrive.
        self.accepted: set[tuple[str, str]] = set()
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self.port = free_port()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        return [r for r in list(self.received) if r.path == path]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        with self._lock:
            count = self._counts[path] = self._counts.get(path, 0) + 1
            status = self.answer(path, count)
            client = scope.get("client") or ("", 0)
            self.received.append(Received(path, headers, body, status, client[1]))
        if status == 200:
            self.accepted.add((path, headers.get("webhook-id", "")))
        if self.delay:
            await asyncio.sleep(self.delay)
        if status is None:
            await asyncio.sleep(3600)  # never answers; cancelled at shutdown
            return
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@contextmanager
def receiving(
    answer: Answer = lambda _path, _count: 200, *, delay: float = 0.0
) -> Iterator[Receiver]:
    receiver = Receiver(answer, delay)
    config = uvicorn.Config(
        receiver,
        host="127.0.0.1",
        port=receiver.port,
        log_level="error",
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=1,
        backlog=2048,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "the webhook receiver did not start"
    try:
        yield receiver
    finally:
        server.should_exit = True
        thread.join(10)
