"""A stand-in for Stripe's API on 127.0.0.1: answers each (method, path) with the responses
a test queued, shaped like the objects and errors Stripe documents (docs.stripe.com/api),
and records every request as the library sent it (headers, form-encoded parameters).

It runs in a thread of its own (http.server), so a response that is slow on purpose holds
up only that request, never the test's event loop."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    delay: float = 0.0  # seconds before answering (a timeout, for a short client timeout)


@dataclass(frozen=True)
class Sent:
    method: str
    path: str
    headers: dict[str, str]  # names lowercased
    form: dict[str, str]  # the body's parameters (Stripe's bracket notation kept as is)


@dataclass
class FakeStripe:
    replies: dict[tuple[str, str], deque[Reply]] = field(default_factory=lambda: defaultdict(deque))
    requests: list[Sent] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def reply(self, method: str, path: str, *replies: Reply) -> None:
        """Queues answers to `method path`; the last one is repeated once the rest are used."""
        self.replies[(method, path)].extend(replies)

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                path = urlsplit(self.path).path
                fake.requests.append(
                    Sent(
                        method,
                        path,
                        {k.lower(): v for k, v in self.headers.items()},
                        {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()},
                    )
                )
                queue = fake.replies.get((method, path))
                if not queue:
                    reply = Reply(404, error("invalid_request_error", "resource_missing"))
                else:
                    reply = queue.popleft() if len(queue) > 1 else queue[0]
                if reply.delay:
                    time.sleep(reply.delay)
                payload = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.send_header("request-id", "req_fake123")
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout tests)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def sent(self, method: str, path: str) -> list[Sent]:
        return [r for r in self.requests if (r.method, r.path) == (method, path)]


def error(kind: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    """An error body as Stripe sends it (`{"error": {"type", "code", "message", …}}`)."""
    return {"error": {"type": kind, "code": code, "message": f"{kind} ({code})", **extra}}


# ---------------------------------------------------------- Stripe's documented shapes


def payment_method(
    pm_id: str = "pm_1Q0PsIJvEtkwdCNYMSaVuRz6",
    *,
    customer: str | None = "cus_NhD8HD2bY8dP3V",
    kind: str = "card",
) -> dict[str, Any]:
    card = {
        "brand": "visa",
        "checks": {"address_line1_check": None, "cvc_check": "pass"},
        "country": "US",
        "exp_month": 8,
        "exp_year": 2031,
        "fingerprint": "Xt5EWLLDS7FJjR1c",
        "funding": "credit",
        "last4": "4242",
        "networks": {"available": ["visa"], "preferred": None},
        "wallet": None,
    }
    return {
        "id": pm_id,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {"address": None, "email": None, "name": None, "phone": None},
        "card": card if kind == "card" else None,
        "created": 1726673582,
        "customer": customer,
        "livemode": False,
        "metadata": {},
        "type": kind,
        **({} if kind == "card" else {kind: {}}),
    }


def payment_intent(
    status: str,
    pi_id: str = "pi_3MtwBwLkdIwHu7ix28a3tqPa",
    *,
    amount: int = 2000,
    currency: str = "usd",
    last_payment_error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": pi_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount if status == "succeeded" else 0,
        "automatic_payment_methods": {"allow_redirects": "never", "enabled": True},
        "capture_method": "automatic",
        "client_secret": f"{pi_id}_secret_YrKJUKribcBjcG8HVhfZluoGH",
        "confirmation_method": "automatic",
        "created": 1680800504,
        "currency": currency,
        "customer": "cus_NhD8HD2bY8dP3V",
        "last_payment_error": last_payment_error,
        "latest_charge": "ch_3MtwBwLkdIwHu7ix28a3tqPa",
        "livemode": False,
        "metadata": {},
        "next_action": {"type": "use_stripe_sdk"} if status == "requires_action" else None,
        "payment_method": "pm_1Q0PsIJvEtkwdCNYMSaVuRz6",
        "payment_method_types": ["card"],
        "status": status,
    }


def card_error(decline_code: str, pi_id: str = "pi_3MtwBwLkdIwHu7ix28a3tqPa") -> dict[str, Any]:
    """402 body of a declined confirmation: the error, and the PaymentIntent it left."""
    details = {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": decline_code,
        "doc_url": "https://stripe.com/docs/error-codes/card-declined",
        "message": "Your card was declined.",
        "charge": "ch_3MtwBwLkdIwHu7ix28a3tqPa",
    }
    intent = payment_intent("requires_payment_method", pi_id, last_payment_error=details)
    return {"error": {**details, "payment_intent": intent}}


def refund(status: str, *, failure_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "re_1Nispe2eZvKYlo2Cd31jOCgZ",
        "object": "refund",
        "amount": 1000,
        "balance_transaction": "txn_1Nispe2eZvKYlo2CYezqFhEx",
        "charge": "ch_3MtwBwLkdIwHu7ix28a3tqPa",
        "created": 1692942318,
        "currency": "usd",
        "metadata": {},
        "payment_intent": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        "reason": None,
        "status": status,
        **({"failure_reason": failure_reason} if failure_reason else {}),
    }
