"""A customer's billing settings: tax status, the locale of its invoices, payment terms.

Checked when a customer is created or changed (domain.customers); the customers table's
CHECKs are the backstop (migration 0008).
"""

from __future__ import annotations

import re
from typing import Final

from babel import localedata

from domain.errors import ErrorCode, FieldErrors

NET_TERMS_DAYS_MAX: Final = 365
# language[_TERRITORY], as the customers table's CHECK stores it ("fr", "de_CH").
_LOCALE = re.compile(r"[a-z]{2}(_[A-Z]{2})?")


def tax_exemption(errors: FieldErrors, value: object) -> str:
    """One of domain.taxes.TaxExemption's values."""
    # Imported here: domain.taxes reads domain.customers, which reads this module.
    from domain.taxes import TaxExemption

    if not isinstance(value, str) or value not in {e.value for e in TaxExemption}:
        errors.add(ErrorCode.INVALID, ("input", "taxExempt"), "NONE, EXEMPT or REVERSE.")
        return TaxExemption.NONE.value
    return value


def is_known_locale(locale: str) -> bool:
    """Whether `locale` is language[_TERRITORY] as stored ("fr", "de_CH") and the CLDR data
    Babel ships knows it, so invoices can be written in it."""
    return bool(_LOCALE.fullmatch(locale)) and localedata.exists(locale)


def preferred_locale(errors: FieldErrors, value: object) -> str:
    """The locale normalised ("de-ch" is de_CH: BCP 47 as browsers send it is accepted)."""
    text = value.strip() if isinstance(value, str) else ""
    language, _, territory = text.replace("-", "_").partition("_")
    locale = f"{language.lower()}_{territory.upper()}" if territory else language.lower()
    if not is_known_locale(locale):
        errors.add(
            ErrorCode.INVALID,
            ("input", "preferredLocale"),
            "A language with an optional territory that invoices can be written in, such as "
            '"en", "fr" or "de_CH".',
        )
    return locale


def net_terms_days(errors: FieldErrors, value: object) -> int:
    """Days from an invoice's finalization to its due date: 0 (due at once) to 365."""
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(ErrorCode.INVALID, ("input", "netTermsDays"), "A whole number of days.")
        return 0
    if not 0 <= value <= NET_TERMS_DAYS_MAX:
        errors.add(
            ErrorCode.INVALID,
            ("input", "netTermsDays"),
            f"0 (due on finalization) to {NET_TERMS_DAYS_MAX} days.",
        )
    return value
