"""What no request may carry, checked once for the whole request before anything runs.

- NUL characters and unpaired surrogates (`\ud800`): PostgreSQL text cannot hold them, so
  they would surface as server errors.
- Card numbers (PCI DSS): Ledgerline never receives, stores or logs one, and a refused
  request must not be stored for idempotent replay or echoed in an error message either.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.card_data import contains_card_number


class RefusedRequest(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _strings(value: Any) -> Any:
    if isinstance(value, str):
        yield value
    elif isinstance(value, int | Decimal) and not isinstance(value, bool):
        yield format(value, "f")  # a card number sent as a JSON number is one too
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def screen_body(body: str, *texts: Any) -> None:
    """Screens a request given its raw JSON text and the values parsed from it.

    A cheap first look at the raw text: only a body with an escape sequence (which could
    hide a NUL or a digit) or a run of digits that passes the card check is walked value
    by value, so a 1,000-event usage batch costs one regex pass.
    """
    if "\\u" in body or contains_card_number(body):
        screen_request(*texts)


def screen_request(*texts: Any) -> None:
    # One pass over all strings at once; the newlines keep digits of two strings apart.
    text = "\n".join(_strings(list(texts)))
    if "\x00" in text:
        raise RefusedRequest("BAD_REQUEST", "The request contains a NUL character.")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # An escaped lone surrogate ("\ud800"): not a character, and not storable.
            raise RefusedRequest(
                "BAD_REQUEST", "The request contains an unpaired surrogate (\\uD800-\\uDFFF)."
            ) from None
    if contains_card_number(text):
        raise RefusedRequest(
            "CARD_DATA_REFUSED",
            "The request contains what looks like a card number. Ledgerline never "
            "receives card data: attach payment methods as a payment provider's token.",
        )
