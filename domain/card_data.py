"""PCI DSS: Ledgerline never receives, stores or logs a card number.

Free-text fields (names, metadata, ids) are screened for primary account numbers: 13 to 19
digits, optionally grouped by spaces or dashes, that pass the Luhn check. Payment methods
are attached only as a provider's token with brand, last4 and expiry.
"""

from __future__ import annotations

import re

_CANDIDATE = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
# Runs of digits, spaces and dashes long enough to hold a card number. The regex engine
# scans for a leading digit in C, so a long text (a 1,000-event usage batch) costs one
# quick pass and the exact pattern runs only inside the few runs found.
_RUN = re.compile(r"\d[\d -]{11,}\d")


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


def contains_card_number(text: str) -> bool:
    # A run is maximal (a digit never precedes or follows it), so the candidates inside
    # it are exactly the candidates the whole text holds there.
    for run in _RUN.finditer(text):
        for match in _CANDIDATE.finditer(run.group()):
            digits = re.sub(r"[ -]", "", match.group())
            if 13 <= len(digits) <= 19 and luhn_valid(digits):
                return True
    return False
