"""The tasks a request starts, so that none of them outlives it.

graphql-core runs sibling fields concurrently and, when a non-null field fails, returns
while the others are being cancelled; aiodataloader dispatches every batch as a task that
nothing cancels. A request must not end its transaction while such work still runs. The
event loop's task factory is the one place that sees the tasks libraries create, so while
a request is served every task it (or its tasks) creates is recorded, and the request
settles them before its transaction ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from contextvars import Context, ContextVar
from typing import Any

_tasks: ContextVar[set[asyncio.Future[Any]] | None] = ContextVar(
    "ledgerline_request_tasks", default=None
)
# A cancelled task that ignores its cancellation for this long is left to the event loop.
CANCEL_WAIT_SECONDS = 1.0


def install_task_tracking(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Chains a recording task factory onto `loop`'s; returns what undoes it."""
    previous = loop.get_task_factory()

    def factory(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Future[Any]:
        if previous is not None:
            task = previous(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)
        context: Context | None = kwargs.get("context")
        tasks = context.get(_tasks) if context is not None else _tasks.get()
        if tasks is not None:
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        return task

    loop.set_task_factory(factory)  # type: ignore[arg-type]

    def uninstall() -> None:
        if loop.get_task_factory() is factory:
            loop.set_task_factory(previous)

    return uninstall


@asynccontextmanager
async def settled_tasks(grace: float) -> AsyncIterator[None]:
    """Records the tasks started in the block; on leaving it, waits up to `grace` seconds
    for them (and the tasks they start) to finish, then cancels what is left."""
    tasks: set[asyncio.Future[Any]] = set()
    token = _tasks.set(tasks)
    try:
        yield
    finally:
        _tasks.reset(token)
        await _settle(tasks, grace)


async def _settle(tasks: set[asyncio.Future[Any]], grace: float) -> None:
    deadline = time.monotonic() + grace
    while tasks:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        await asyncio.wait(set(tasks), timeout=remaining)
    if tasks:
        leftover = set(tasks)
        for task in leftover:
            task.cancel()
        await asyncio.wait(leftover, timeout=CANCEL_WAIT_SECONDS)
