"""PCI DSS: Ledgerline never receives, stores or logs a card number.

Free-text fields (names, metadata, ids, usage properties) are screened for primary account
numbers the way data-loss-prevention scanners find them: a number is a card number when
- it is written as cards are: 13 to 19 digits in a row, or in the printed groups
  (4-4-4-4, 4-4-4-4-3, 4-4-4-3, American Express 4-6-5, Diners 4-6-4, spaces or dashes
  between);
- it starts with a major network's issuer range (ISO/IEC 7812) and has one of its lengths;
- it passes the Luhn check.
Without the first two, one in ten of all digit strings would be "cards": idempotency keys
such as `20261126-123456`, millisecond timestamps, phone numbers. Left out on purpose, for
the same reason: 13-digit Visa numbers (no longer issued; a German mobile number is 13
digits from 49), UATP airline cards (prefix 1, the start of every epoch timestamp) and
Maestro numbers under 16 digits (EAN-13 barcodes). A number glued to a letter or an
underscore is not one either, as for scanners matching on word boundaries: hex UUIDs
(`77f578613140401680762a9af4046a6d`) hold 16- to 19-digit runs, and one usage batch in
ten with such idempotency keys was refused. Payment methods are attached only as a
provider's token with brand, last4 and expiry.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

_LONG: Final = (16, 17, 18, 19)

# (lowest, highest) leading digits, and the lengths the network issues.
_NETWORKS: Final = (
    ((4, 4), (16, 19)),  # Visa (13-digit cards are no longer issued)
    ((51, 55), (16,)),  # Mastercard
    ((2221, 2720), (16,)),  # Mastercard 2-series
    ((2200, 2204), _LONG),  # Mir
    ((34, 34), (15,)),  # American Express
    ((37, 37), (15,)),
    ((300, 305), (14, 15, *_LONG)),  # Diners Club
    ((36, 36), (14, 15, *_LONG)),
    ((38, 39), (14, 15, *_LONG)),
    ((3528, 3589), _LONG),  # JCB
    ((3088, 3094), _LONG),
    ((3096, 3102), _LONG),
    ((3112, 3120), _LONG),
    ((3158, 3159), _LONG),
    ((3337, 3349), _LONG),
    ((60, 60), _LONG),  # Discover 6011, Hipercard 606282, RuPay, Maestro 60
    ((644, 649), _LONG),  # Discover
    ((65, 65), _LONG),
    ((62, 62), _LONG),  # UnionPay
    ((81, 81), _LONG),
    ((50, 50), _LONG),  # Maestro (16 to 19 digits: 13 would match EAN-13 barcodes)
    ((56, 58), _LONG),
    ((63, 63), _LONG),
    ((67, 67), _LONG),
)

# Runs of digits, spaces and dashes long enough to hold a card number. The regex engine
# scans for a leading digit in C, so a long text (a 1,000-event usage batch) costs one
# quick pass and the exact patterns run only inside the few runs found.
_RUN = re.compile(r"\d[\d -]{11,}\d")
# Not glued to a letter or an underscore (a word character that is not a digit).
_START = r"(?<![^\W\d])"
_END = r"(?![^\W\d])"
_CONTIGUOUS = re.compile(rf"{_START}(?<!\d)\d{{13,19}}(?!\d){_END}")
# The printed forms, each tried on its own so that one never hides another (a card number
# followed by its expiry, "4242 4242 4242 4242 12/34"): groups of four with a last group of
# two to four (19 digits: 4-4-4-4-3), American Express 4-6-5 and Diners 4-6-4. A form must
# not continue a grouped number on its left (the middle of a long reference in fours).
_S = r"[ -]"
_GROUPED_FORMS = tuple(
    re.compile(rf"{_START}(?<!\d)(?<!\d{{4}}{_S}){form}(?!\d){_END}")
    for form in (
        rf"\d{{4}}{_S}\d{{4}}{_S}\d{{4}}{_S}\d{{2,4}}",
        rf"\d{{4}}{_S}\d{{4}}{_S}\d{{4}}{_S}\d{{4}}{_S}\d{{3}}",
        rf"\d{{4}}{_S}\d{{6}}{_S}\d{{4,5}}",
    )
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


def card_candidates(text: str, start: int = 0, end: int | None = None) -> Iterator[str]:
    """The digits of every number in `text[start:end]` written the way cards are written;
    the characters around that slice count as a number's neighbours."""
    # One character past `end` is in view, for the check of what follows a number.
    stop = len(text) if end is None else min(end + 1, len(text))
    for pattern in (_CONTIGUOUS, *_GROUPED_FORMS):
        for match in pattern.finditer(text, start, stop):
            yield re.sub(r"[ -]", "", match.group())


def contains_card_number(text: str) -> bool:
    # A run is maximal (a digit never precedes or follows it), so the candidates inside
    # it are exactly the candidates the whole text holds there.
    for run in _RUN.finditer(text):
        for digits in card_candidates(text, run.start(), run.end()):
            if issued_by_a_network(digits) and luhn_valid(digits):
                return True
    return False
