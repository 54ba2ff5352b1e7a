"""Load generation with wrk: one POST (or GET) repeated from kept-alive connections.

wrk is installed with apt-get when missing. Its Lua script carries the body and headers; its
report gives requests/s and the latency distribution (which, like any closed-loop load
generator's, leaves out the time a request waited to be sent).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_UNITS_BYTES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


@dataclass(frozen=True)
class Run:
    """One wrk run's figures."""

    requests_per_second: float
    mean_ms: float
    p50_ms: float
    p99_ms: float
    requests: int
    bytes_per_request: float
    errors: int  # non-2xx answers and socket errors

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    print("Installing wrk (apt-get) ...")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"],
        check=True,
        env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )


def wrk(
    url: str,
    body: str | None,
    headers: dict[str, str],
    *,
    duration: int,
    connections: int,
    threads: int,
) -> Run:
    """Sends `body` by POST (GET when None) for `duration` seconds."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(_lua(body, headers))
        script.flush()
        command = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}"]
        command += [f"-d{duration}s", "--latency", "-s", script.name, url]
        report = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return _parse(report)


def _lua(body: str | None, headers: dict[str, str]) -> str:
    lines = []
    if body is not None:
        if "]==]" in body:
            raise ValueError("the body cannot go in a Lua long string")
        lines += ['wrk.method = "POST"', f"wrk.body = [==[{body}]==]"]
        headers = {"Content-Type": "application/json", **headers}
    lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
    return "\n".join(lines) + "\n"


def _parse(report: str) -> Run:
    requests = re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+)(\w+) read", report)
    if requests is None:
        raise RuntimeError(f"unexpected wrk report:\n{report}")
    count = int(requests.group(1))
    received = float(requests.group(4)) * _UNITS_BYTES[requests.group(5)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report
    )
    errors = int(non2xx.group(1)) if non2xx else 0
    errors += sum(int(n) for n in sockets.groups()) if sockets else 0
    return Run(
        requests_per_second=float(_group(r"Requests/sec:\s+([\d.]+)", report)),
        mean_ms=_ms(re.search(r"Latency\s+([\d.]+)(\w+)", report)),
        p50_ms=_ms(re.search(r"50%\s+([\d.]+)(\w+)", report)),
        p99_ms=_ms(re.search(r"99%\s+([\d.]+)(\w+)", report)),
        requests=count,
        bytes_per_request=round(received / count, 1) if count else 0.0,
        errors=errors,
    )


def _group(pattern: str, report: str) -> str:
    match = re.search(pattern, report)
    if match is None:
        raise RuntimeError(f"no {pattern!r} in wrk's report:\n{report}")
    return match.group(1)


def _ms(match: re.Match[str] | None) -> float:
    if match is None:
        return float("nan")
    return round(float(match.group(1)) * _UNITS_MS[match.group(2)], 3)
