"""The checks every chaos scenario ends with (issue 12, "One request can never break
another"):

- every answer was the API's JSON, with a code on every error; a 5xx is 503
  DATABASE_UNAVAILABLE (with Retry-After) or 500 INTERNAL_SERVER_ERROR, each with an
  errorId; and no 500 at all is expected here: a 500 means a bug;
- the server answers normal requests within 5 s of the disruption's end, and then a burst
  of them (a poisoned pooled connection fails only some requests);
- no connection stays `idle in transaction` for more than a moment;
- no data lost or doubled: every createCustomer a client was not told succeeded is sent
  again under its Idempotency-Key until it succeeds; then each key's customer exists
  exactly once, with the id its client was told, and one `customer.created` event;
- the server process is alive and its log shows none of the known failures of the bug.

Problems are collected, not asserted one by one, so one run reports all of them.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.chaos.stage import OWNER_APPLICATION, ChaosDatabase, ChaosServer
from tests.chaos.traffic import Answer, Creation, Operation, Sent, Traffic, created_id, poll
from tests.support.server_process import REPO

RECOVERY_TIMEOUT = 5.0
RESEND_TIMEOUT = 10.0
IDLE_IN_TRANSACTION_TIMEOUT = 3.0
REPLAYS_CHECKED = 10
EXAMPLES = 3
FRAMES = 6
_OUR_CODE = str(REPO)

# Log lines of the bug class: each means a request broke its connection or another request.
BUG_LOG_LINES = {
    "PendingRollbackError": "a commit on a connection the adapter had invalidated",
    "another operation": "a statement on a connection busy or broken (asyncpg's protocol state)",
    "cannot use Connection.transaction() in a manually started transaction": (
        "a connection back in the pool inside a transaction"
    ),
    "Exception in ASGI application": "an exception reached uvicorn (Starlette's plain-text 500)",
    "Task exception was never retrieved": "a task failed with nobody waiting for it",
    "non-checked-in connection": "a connection dropped without being returned to the pool",
    # infra/http/errors.py logs every INTERNAL_SERVER_ERROR so, a client's answer or not.
    "unexpected error": "an error answered INTERNAL_SERVER_ERROR",
}
# uvicorn's access log shows a 500 even when the client had gone and never saw it.
_ACCESS_LOG_500 = re.compile(r'"[A-Z]+ \S+ HTTP/1\.1" 500\b')


@dataclass
class Findings:
    """Problems by kind, with a few examples of each."""

    scenario: str
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    notes: list[str] = field(default_factory=list)

    def add(self, kind: str, example: str = "") -> None:
        self.problems[kind].append(example)

    def note(self, line: str) -> None:
        """What happened (counts, timings), printed with the problems."""
        self.notes.append(line)

    def report(self) -> str:
        lines = [f"chaos scenario {self.scenario!r}:"]
        lines += [f"  {note}" for note in self.notes]
        for kind, examples in self.problems.items():
            lines.append(f"- {kind}: {len(examples)}")
            lines += [f"    e.g. {example}" for example in examples[:EXAMPLES] if example]
        return "\n".join(lines)

    def assert_none(self) -> None:
        print(self.report())
        assert not self.problems, self.report()


def check_answer(sent: Sent, findings: Findings) -> None:
    """One answer against the API's error contract and what the operation may answer."""
    if sent.answer is None:
        if sent.cut is None:
            findings.add("no HTTP answer to a client that waited for one", sent.describe())
        return
    answer = sent.answer
    payload = answer.json()
    if not isinstance(payload, dict):
        findings.add("answer is not the API's JSON", sent.describe())
        return
    errors = payload.get("errors") or []
    if answer.status >= 400 and not errors:
        findings.add("error answer without `errors`", sent.describe())
    extensions = [error.get("extensions") or {} for error in errors]
    if any(not ext.get("code") for ext in extensions):
        findings.add("error without extensions.code", sent.describe())
    codes = {ext.get("code") for ext in extensions}
    if answer.status >= 500:
        _check_server_error(sent, answer, extensions, findings)
    elif "INTERNAL_SERVER_ERROR" in codes:
        findings.add(f"INTERNAL_SERVER_ERROR in a {answer.status} answer (a bug)", sent.describe())
    if not _expected(sent, answer, codes):
        findings.add(f"unexpected answer to {sent.operation.value}", sent.describe())


def _check_server_error(
    sent: Sent, answer: Answer, extensions: list[dict[str, Any]], findings: Findings
) -> None:
    codes = {ext.get("code") for ext in extensions}
    if not all(ext.get("errorId") for ext in extensions) or not extensions:
        findings.add(f"{answer.status} without extensions.errorId", sent.describe())
    if answer.status == 503:
        if codes != {"DATABASE_UNAVAILABLE"}:
            findings.add("503 whose code is not DATABASE_UNAVAILABLE", sent.describe())
        if "retry-after" not in answer.headers:
            findings.add("503 without Retry-After", sent.describe())
    elif answer.status == 500:
        findings.add("HTTP 500 (none is expected in these scenarios: a bug)", sent.describe())
        if codes != {"INTERNAL_SERVER_ERROR"}:
            findings.add("500 whose code is not INTERNAL_SERVER_ERROR", sent.describe())
    else:
        findings.add(f"HTTP {answer.status}", sent.describe())


def _expected(sent: Sent, answer: Answer, codes: set[str | None]) -> bool:
    """What each operation may answer under chaos: its normal answer or 503."""
    if answer.status == 503 and codes == {"DATABASE_UNAVAILABLE"}:
        return True
    if sent.operation is Operation.CREATE:
        if created_id(answer) is not None:
            return True
        # Only a client sending a key again can find it still held by its first attempt.
        return sent.retry and answer.status == 409 and codes == {"IDEMPOTENCY_KEY_IN_USE"}
    if answer.status != 200:
        return False
    if sent.operation is Operation.PARTLY_FORBIDDEN:
        return codes == {"FORBIDDEN"}
    return not codes


def _normal_read_ok(sent: Sent) -> bool:
    return sent.answer is not None and sent.answer.status == 200 and not sent.answer.codes()


async def check_recovery(
    traffic: Traffic, server: ChaosServer, disruption_ended: float, findings: Findings
) -> None:
    """Normal requests served within 5 s of the disruption's end, then a burst of them."""

    async def serves() -> bool:
        return _normal_read_ok(await traffic.send(Operation.READ))

    recovered = await poll(
        serves, timeout=max(0.0, disruption_ended + RECOVERY_TIMEOUT - time.monotonic())
    )
    took = time.monotonic() - disruption_ended
    findings.note(f"first normal answer {took:.2f} s after the disruption ended")
    if not recovered:
        last = traffic.sent[-1].describe()
        findings.add(f"no normal answer within {RECOVERY_TIMEOUT} s of the disruption", last)
        return
    burst = [traffic.send(Operation.READ) for _ in range(2 * server.max_connections)]
    burst += [traffic.send(Operation.CREATE) for _ in range(4)]
    for sent in await asyncio.gather(*burst):
        ok = _normal_read_ok(sent) if sent.operation is Operation.READ else created_id(sent.answer)
        if not ok:
            findings.add("a normal request failed after recovery", sent.describe())


async def resend_unconfirmed(traffic: Traffic, findings: Findings) -> None:
    """What a careful client does: send every createCustomer it was not told succeeded again,
    with the same Idempotency-Key, until it succeeds."""
    deadline = time.monotonic() + RESEND_TIMEOUT
    unconfirmed = [c for c in traffic.creations.values() if c.customer_id is None]
    findings.note(f"{len(unconfirmed)} createCustomer sent again under their keys")
    gate = asyncio.Semaphore(8)

    async def until_created(creation: Creation) -> None:
        async with gate:
            last: Sent | None = None
            while time.monotonic() < deadline:
                last = await traffic.resend(creation)
                if creation.customer_id is not None:
                    return
                await asyncio.sleep(0.1)
            findings.add(
                f"createCustomer never succeeded when sent again for {RESEND_TIMEOUT} s",
                f"{creation.key}: {last.describe() if last else 'no time left to send it'}",
            )

    await asyncio.gather(*(until_created(c) for c in unconfirmed))


async def check_replays(traffic: Traffic, findings: Findings) -> None:
    """A confirmed createCustomer sent again replays its first answer byte for byte."""
    confirmed = [c for c in traffic.creations.values() if c.answers][:REPLAYS_CHECKED]
    for creation in confirmed:
        first = creation.answers[0]
        sent = await traffic.resend(creation)
        answer = sent.answer
        if (
            answer is None
            or answer.body != first
            or answer.headers.get("idempotent-replayed") != ("true")
        ):
            findings.add("a replay differs from the first answer", f"{first!r} / {sent.describe()}")


async def check_data(traffic: Traffic, database: ChaosDatabase, findings: Findings) -> None:
    """Each key's customer exists exactly once, with the id its client was told."""
    async with database.owner() as owner:
        rows = await owner.fetch(
            "select c.id, c.name, (select count(*) from events e where e.tenant_id = c.tenant_id"
            " and e.object_id = c.id and e.type = 'customer.created') as created_events"
            " from customers c where c.name like $1",
            traffic.prefix + " %",
        )
    by_name: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_name[row["name"]].append(row["id"])
        if row["created_events"] != 1:
            findings.add("customer.created events per customer is not 1", str(dict(row)))
    expected = {c.name: c for c in traffic.creations.values()}
    findings.note(
        f"{len(expected)} keys, {sum(1 for c in expected.values() if c.customer_id)} confirmed,"
        f" {len(rows)} customers in the database"
    )
    for name, ids in by_name.items():
        if len(ids) > 1:
            findings.add("customer created twice (data doubled)", f"{name}: {ids}")
        if name not in expected:
            findings.add("customer no client asked for", name)
    for name, creation in expected.items():
        ids = by_name.get(name, [])
        if not ids:
            told = creation.customer_id or "nothing"
            findings.add("customer missing (data lost)", f"{creation.key}: client told {told}")
        elif creation.customer_id is not None and creation.customer_id not in ids:
            findings.add(
                "the id a client was told is not the customer's",
                f"{creation.key}: told {creation.customer_id}, database has {ids}",
            )


async def check_no_idle_transactions(database: ChaosDatabase, findings: Findings) -> None:
    """No server connection `idle in transaction` for more than a moment."""
    stuck: list[str] = []

    async def none_stuck() -> bool:
        nonlocal stuck
        async with database.owner() as owner:
            rows = await owner.fetch(
                "select pid, state, now() - state_change as age, left(query, 120) as query"
                " from pg_stat_activity where datname = current_database()"
                " and application_name <> $1 and state like 'idle in transaction%'"
                " and state_change < now() - interval '1 second'",
                OWNER_APPLICATION,
            )
        stuck = [str(dict(row)) for row in rows]
        return not stuck

    if not await poll(none_stuck, timeout=IDLE_IN_TRANSACTION_TIMEOUT, every=0.25):
        for row in stuck:
            findings.add("connection left idle in transaction", row)


def logged_exceptions(lines: list[str]) -> dict[str, list[str]]:
    """Each traceback in the log by its exception line, with the first one's frames in our
    code (a chained exception's cause counts as one of its own)."""
    found: dict[str, list[str]] = {}
    counts: dict[str, int] = defaultdict(int)
    for start, line in enumerate(lines):
        if not line.startswith("Traceback (most recent call last):"):
            continue
        end = start + 1
        while end < len(lines) and lines[end][:1] in (" ", "\t"):
            end += 1
        exception = lines[end].strip()[:200] if end < len(lines) else "(log ends)"
        counts[exception] += 1
        if exception not in found:
            ours = [
                f"{text.strip()} | {lines[at + 1].strip()}"
                for at, text in enumerate(lines[start:end], start)
                if text.lstrip().startswith('File "') and _OUR_CODE in text and ".venv" not in text
            ]
            found[exception] = ours[-FRAMES:]
    return {f"{counts[exception]}x {exception}": frames for exception, frames in found.items()}


def check_server(server: ChaosServer, log_from: int, findings: Findings) -> None:
    if server.running.process.poll() is not None:
        findings.add("server process exited", f"exit code {server.running.process.returncode}")
    kept = Path(server.running.env["DATA_DIR"]) / "server.log"
    kept.write_text("".join(server.log_lines))
    findings.note(f"server log kept in {kept}")
    logged = logged_exceptions(server.log_lines[log_from:])
    for exception, tail in logged.items():
        findings.note(f"server log: {exception}")
        findings.notes += [f"      {line}" for line in tail]
    for line in server.log_lines[log_from:]:
        for needle, meaning in BUG_LOG_LINES.items():
            if needle in line:
                findings.add(f"server log: {needle} ({meaning})", line.strip()[:300])
        if _ACCESS_LOG_500.search(line):
            findings.add("server log: a request answered 500", line.strip()[:300])


async def verify_aftermath(
    traffic: Traffic,
    server: ChaosServer,
    database: ChaosDatabase,
    *,
    disruption_ended: float,
    log_from: int,
    findings: Findings,
) -> None:
    """The common checks, after the scenario's own; fails with every problem found."""
    during = len(traffic.sent)
    cut = sum(1 for sent in traffic.sent if sent.cut is not None)
    statuses: dict[str, int] = defaultdict(int)
    for sent in traffic.sent:
        statuses[str(sent.answer.status) if sent.answer else "cut/none"] += 1
    findings.note(f"{during} requests during the disruption ({cut} cut by their client)")
    findings.note("answers: " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
    await check_recovery(traffic, server, disruption_ended, findings)
    await resend_unconfirmed(traffic, findings)
    await check_replays(traffic, findings)
    for sent in traffic.sent:
        check_answer(sent, findings)
    await check_data(traffic, database, findings)
    await check_no_idle_transactions(database, findings)
    check_server(server, log_from, findings)
    findings.assert_none()
