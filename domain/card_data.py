"""PCI DSS: Ledgerline never receives, stores or logs a card number.

Free-text fields (names, metadata, ids, usage properties) are screened for primary account
numbers the way data-loss-prevention scanners find them: a number is a card number when
- it is written as cards are: 13 to 19 digits in a row, or in the printed groups
  (4-4-4-4, 4-4-4-4-3, American Express 4-6-5, Diners 4-6-4, spaces or dashes between);
- it starts with a major network's issuer range (ISO/IEC 7812) and has one of its lengths;
- it passes the Luhn check.
Without the first two, one in ten of all digit strings would be "cards": idempotency keys
such as `20261126-123456`, millisecond timestamps, phone numbers. Payment methods are
attached only as a provider's token with brand, last4 and expiry.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

# (lowest, highest) leading digits, and the lengths the network issues.
_NETWORKS: Final = (
    ((4, 4), (16, 19)),  # Visa (13-digit cards are no longer issued)
    ((51, 55), (16,)),  # Mastercard
    ((2221, 2720), (16,)),  # Mastercard 2-series
    ((34, 34), (15,)),  # American Express
    ((37, 37), (15,)),
    ((300, 305), (14, 15, 16, 17, 18, 19)),  # Diners Club
    ((36, 36), (14, 15, 16, 17, 18, 19)),
    ((38, 39), (16, 17, 18, 19)),
    ((6011, 6011), (16, 17, 18, 19)),  # Discover
    ((644, 649), (16, 17, 18, 19)),
    ((65, 65), (16, 17, 18, 19)),
    ((3528, 3589), (16, 17, 18, 19)),  # JCB
    ((62, 62), (16, 17, 18, 19)),  # UnionPay
    ((50, 50), (13, 14, 15, 16, 17, 18, 19)),  # Maestro
    ((56, 58), (13, 14, 15, 16, 17, 18, 19)),
    ((63, 63), (13, 14, 15, 16, 17, 18, 19)),
    ((67, 67), (13, 14, 15, 16, 17, 18, 19)),
)

# Runs of digits, spaces and dashes long enough to hold a card number. The regex engine
# scans for a leading digit in C, so a long text (a 1,000-event usage batch) costs one
# quick pass and the exact patterns run only inside the few runs found.
_RUN = re.compile(r"\d[\d -]{11,}\d")
_CONTIGUOUS = re.compile(r"(?<!\d)\d{13,19}(?!\d)")
_GROUPED = re.compile(
    r"(?<!\d)(?<!\d[ -])"
    r"(?:\d{4}[ -]\d{4}[ -]\d{4}[ -]\d{4}(?:[ -]\d{3})?|\d{4}[ -]\d{6}[ -]\d{4,5})"
    r"(?![ -]?\d)"
)


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def issued_by_a_network(digits: str) -> bool:
    """Whether a major card network issues numbers with this prefix and length."""
    for (low, high), lengths in _NETWORKS:
        if len(digits) in lengths and low <= int(digits[: len(str(low))]) <= high:
            return True
    return False


def card_candidates(text: str) -> Iterator[str]:
    """The digits of every number in `text` written the way cards are written."""
    for match in _CONTIGUOUS.finditer(text):
        yield match.group()
    for match in _GROUPED.finditer(text):
        yield re.sub(r"[ -]", "", match.group())


def contains_card_number(text: str) -> bool:
    # A run is maximal (a digit never precedes or follows it), so the candidates inside
    # it are exactly the candidates the whole text holds there.
    for run in _RUN.finditer(text):
        for digits in card_candidates(run.group()):
            if issued_by_a_network(digits) and luhn_valid(digits):
                return True
    return False
