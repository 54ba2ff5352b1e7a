"""What no request may carry, checked once for the whole request before anything runs.

- NUL characters: PostgreSQL text cannot hold them, so they would surface as server errors.
- Card numbers (PCI DSS): Ledgerline never receives, stores or logs one, and a refused
  request must not be stored for idempotent replay or echoed in an error message either.
"""

from __future__ import annotations

from typing import Any

from domain.card_data import contains_card_number


class RefusedRequest(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _strings(value: Any) -> Any:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def screen_request(*texts: Any) -> None:
    for text in _strings(list(texts)):
        if "\x00" in text:
            raise RefusedRequest("BAD_REQUEST", "The request contains a NUL character.")
        if contains_card_number(text):
            raise RefusedRequest(
                "CARD_DATA_REFUSED",
                "The request contains what looks like a card number. Ledgerline never "
                "receives card data: attach payment methods as a payment provider's token.",
            )
