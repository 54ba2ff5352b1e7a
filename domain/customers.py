"""Customers: who a merchant bills, and the rules their details must follow."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any, Final

import pycountry
from email_validator import EmailNotValidError, validate_email

from domain.billing_settings import net_terms_days, preferred_locale, tax_exemption
from domain.card_data import contains_card_number
from domain.currency import is_known_currency
from domain.errors import ErrorCode, FieldErrors
from domain.money import Money

NAME_MAX_LENGTH: Final = 200
EMAIL_MAX_LENGTH: Final = 254
ADDRESS_LINE_MAX_LENGTH: Final = 200
EXTERNAL_ID_MAX_LENGTH: Final = 255
TAX_IDS_MAX: Final = 5
TAX_ID_VALUE_MAX_LENGTH: Final = 64
# Stripe's metadata bounds, which integrators already know.
METADATA_MAX_KEYS: Final = 50
METADATA_KEY_MAX_LENGTH: Final = 40
METADATA_VALUE_MAX_LENGTH: Final = 500


class TaxIdType(str, Enum):
    EU_VAT = "EU_VAT"
    GB_VAT = "GB_VAT"
    CH_VAT = "CH_VAT"
    NO_VAT = "NO_VAT"
    US_EIN = "US_EIN"
    CA_BN = "CA_BN"
    AU_ABN = "AU_ABN"
    IN_GST = "IN_GST"
    JP_CN = "JP_CN"
    BR_CNPJ = "BR_CNPJ"
    OTHER = "OTHER"


@dataclass(frozen=True, slots=True)
class Address:
    country: str
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None


@dataclass(frozen=True, slots=True)
class TaxId:
    type: TaxIdType
    value: str


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    tenant_id: str
    name: str
    email: str | None
    currency: str
    external_id: str | None
    address: Address | None
    tax_ids: tuple[TaxId, ...]
    metadata: dict[str, str]
    balance: Money
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None
    # Billing settings: NONE, EXEMPT or REVERSE (domain.taxes.TaxExemption); the language
    # and locale of its invoices; days from finalization to an invoice's due date.
    tax_exempt: str = "NONE"
    preferred_locale: str = "en"
    net_terms_days: int = 30

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    def snapshot(self) -> dict[str, Any]:
        """The customer as event payloads carry it: JSON-ready, amounts as strings."""
        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "currency": self.currency,
            "externalId": self.external_id,
            "address": address_to_json(self.address),
            "taxIds": tax_ids_to_json(self.tax_ids),
            "metadata": dict(self.metadata),
            "taxExempt": self.tax_exempt,
            "preferredLocale": self.preferred_locale,
            "netTermsDays": self.net_terms_days,
            "createdAt": self.created_at.isoformat(),
            "archived": self.archived,
        }


class _Unset(Enum):
    """Marks a field an update leaves as it is (distinct from None, which clears it).

    An enum member, so type checkers narrow `value is UNSET` away.
    """

    UNSET = "UNSET"


UNSET: Final = _Unset.UNSET


@dataclass(frozen=True, slots=True)
class CustomerDraft:
    """What a caller asks for when creating a customer, before validation."""

    name: str
    currency: str
    email: str | None = None
    external_id: str | None = None
    address: Address | None = None
    tax_ids: tuple[TaxId, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    # Billing settings, as Customer's.
    tax_exempt: str = "NONE"
    preferred_locale: str = "en"
    net_terms_days: int = 30


@dataclass(frozen=True, slots=True)
class CustomerChanges:
    """A partial update: UNSET leaves a field alone, None clears an optional one."""

    name: str | _Unset = UNSET
    email: str | None | _Unset = UNSET
    currency: str | _Unset = UNSET
    external_id: str | None | _Unset = UNSET
    address: Address | None | _Unset = UNSET
    tax_ids: tuple[TaxId, ...] | _Unset = UNSET
    metadata: dict[str, str] | _Unset = UNSET
    tax_exempt: str | _Unset = UNSET
    preferred_locale: str | _Unset = UNSET
    net_terms_days: int | _Unset = UNSET


def address_to_json(address: Address | None) -> dict[str, str | None] | None:
    if address is None:
        return None
    return {
        "line1": address.line1,
        "line2": address.line2,
        "city": address.city,
        "state": address.state,
        "postalCode": address.postal_code,
        "country": address.country,
    }


def address_from_json(data: dict[str, Any] | None) -> Address | None:
    """The address as stored (address_to_json's shape)."""
    if data is None:
        return None
    return Address(
        country=data["country"],
        line1=data.get("line1"),
        line2=data.get("line2"),
        city=data.get("city"),
        state=data.get("state"),
        postal_code=data.get("postalCode"),
    )


def tax_ids_to_json(tax_ids: tuple[TaxId, ...]) -> list[dict[str, str]]:
    return [{"type": t.type.value, "value": t.value} for t in tax_ids]


def validate_draft(draft: CustomerDraft) -> CustomerDraft:
    """Normalise a draft or raise a DomainError listing every problem with its field path."""
    errors = FieldErrors()
    clean = replace(
        draft,
        name=_name(errors, draft.name),
        email=_email(errors, draft.email),
        currency=_currency(errors, draft.currency),
        external_id=_external_id(errors, draft.external_id),
        address=_address(errors, draft.address),
        tax_ids=_tax_ids(errors, draft.tax_ids),
        metadata=_metadata(errors, draft.metadata),
        tax_exempt=tax_exemption(errors, draft.tax_exempt),
        preferred_locale=preferred_locale(errors, draft.preferred_locale),
        net_terms_days=net_terms_days(errors, draft.net_terms_days),
    )
    _refuse_unstorable_text(errors, clean)
    errors.raise_if_any()
    return clean


def validate_changes(changes: CustomerChanges) -> CustomerChanges:
    errors = FieldErrors()
    clean = CustomerChanges(
        name=changes.name if changes.name is UNSET else _name(errors, changes.name),
        email=changes.email if changes.email is UNSET else _email(errors, changes.email),
        currency=(
            changes.currency if changes.currency is UNSET else _currency(errors, changes.currency)
        ),
        external_id=(
            changes.external_id
            if changes.external_id is UNSET
            else _external_id(errors, changes.external_id)
        ),
        address=changes.address if changes.address is UNSET else _address(errors, changes.address),
        tax_ids=changes.tax_ids if changes.tax_ids is UNSET else _tax_ids(errors, changes.tax_ids),
        metadata=(
            changes.metadata if changes.metadata is UNSET else _metadata(errors, changes.metadata)
        ),
        tax_exempt=(
            changes.tax_exempt
            if changes.tax_exempt is UNSET
            else tax_exemption(errors, changes.tax_exempt)
        ),
        preferred_locale=(
            changes.preferred_locale
            if changes.preferred_locale is UNSET
            else preferred_locale(errors, changes.preferred_locale)
        ),
        net_terms_days=(
            changes.net_terms_days
            if changes.net_terms_days is UNSET
            else net_terms_days(errors, changes.net_terms_days)
        ),
    )
    _refuse_unstorable_text(errors, clean)
    errors.raise_if_any()
    return clean


def apply_changes(customer: Customer, changes: CustomerChanges) -> Customer:
    """The customer with validated changes applied; UNSET fields keep their value."""
    return replace(
        customer,
        name=customer.name if changes.name is UNSET else changes.name,
        email=customer.email if changes.email is UNSET else changes.email,
        currency=customer.currency if changes.currency is UNSET else changes.currency,
        external_id=(customer.external_id if changes.external_id is UNSET else changes.external_id),
        address=customer.address if changes.address is UNSET else changes.address,
        tax_ids=customer.tax_ids if changes.tax_ids is UNSET else changes.tax_ids,
        metadata=customer.metadata if changes.metadata is UNSET else changes.metadata,
        tax_exempt=customer.tax_exempt if changes.tax_exempt is UNSET else changes.tax_exempt,
        preferred_locale=(
            customer.preferred_locale
            if changes.preferred_locale is UNSET
            else changes.preferred_locale
        ),
        net_terms_days=(
            customer.net_terms_days if changes.net_terms_days is UNSET else changes.net_terms_days
        ),
    )


def _refuse_unstorable_text(errors: FieldErrors, fields: CustomerDraft | CustomerChanges) -> None:
    """No free-text field may carry a card number (PCI DSS) or a NUL character."""
    texts: list[tuple[tuple[str, ...], object]] = [
        (("name",), fields.name),
        (("email",), fields.email),
        (("externalId",), fields.external_id),
    ]
    if isinstance(fields.address, Address):
        texts += [
            (("address", "line1"), fields.address.line1),
            (("address", "line2"), fields.address.line2),
            (("address", "city"), fields.address.city),
            (("address", "state"), fields.address.state),
            (("address", "postalCode"), fields.address.postal_code),
        ]
    if isinstance(fields.tax_ids, tuple):
        texts += [(("taxIds", str(i), "value"), t.value) for i, t in enumerate(fields.tax_ids)]
    if isinstance(fields.metadata, dict):
        texts += [(("metadata", str(key)), value) for key, value in fields.metadata.items()]
        texts += [(("metadata", str(key)), key) for key in fields.metadata]
    for path, text in texts:
        if isinstance(text, str) and "\x00" in text:
            # PostgreSQL text cannot hold NUL; refuse it as input, not as a server error.
            errors.add(ErrorCode.INVALID, _path(*path), "Text cannot contain NUL characters.")
        elif isinstance(text, str) and contains_card_number(text):
            errors.add(
                ErrorCode.CARD_DATA_REFUSED,
                _path(*path),
                "This looks like a card number. Ledgerline never stores card data: "
                "attach payment methods as a provider token.",
            )


def _path(*parts: str) -> tuple[str, ...]:
    return ("input", *parts)


def _name(errors: FieldErrors, name: str) -> str:
    name = (name or "").strip()
    if not name:
        errors.add(ErrorCode.REQUIRED, _path("name"), "Name is required.")
    elif len(name) > NAME_MAX_LENGTH:
        errors.add(
            ErrorCode.TOO_LONG, _path("name"), f"Name is at most {NAME_MAX_LENGTH} characters."
        )
    return name


def _email(errors: FieldErrors, email: str | None) -> str | None:
    if email is None or not email.strip():
        return None
    email = email.strip()
    if len(email) > EMAIL_MAX_LENGTH:
        errors.add(
            ErrorCode.TOO_LONG, _path("email"), f"Email is at most {EMAIL_MAX_LENGTH} characters."
        )
        return email
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        errors.add(ErrorCode.INVALID_EMAIL, _path("email"), f"Email is not valid: {exc}")
        return email


def _currency(errors: FieldErrors, currency: str) -> str:
    code = (currency or "").strip().upper()
    if not is_known_currency(code):
        errors.add(
            ErrorCode.UNKNOWN_CURRENCY,
            _path("currency"),
            "Not an ISO 4217 currency code (such as USD, EUR, JPY).",
        )
    return code


def _external_id(errors: FieldErrors, external_id: str | None) -> str | None:
    if external_id is None or not external_id.strip():
        return None
    external_id = external_id.strip()
    if len(external_id) > EXTERNAL_ID_MAX_LENGTH:
        errors.add(
            ErrorCode.TOO_LONG,
            _path("externalId"),
            f"External id is at most {EXTERNAL_ID_MAX_LENGTH} characters.",
        )
    return external_id


def _optional_line(errors: FieldErrors, value: str | None, *path: str) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > ADDRESS_LINE_MAX_LENGTH:
        errors.add(
            ErrorCode.TOO_LONG,
            _path(*path),
            f"At most {ADDRESS_LINE_MAX_LENGTH} characters.",
        )
    return value


def is_country_code(country: str) -> bool:
    """Whether `country` is an ISO 3166-1 alpha-2 code as stored (upper case: "DE")."""
    return len(country) == 2 and pycountry.countries.get(alpha_2=country) is not None


def _address(errors: FieldErrors, address: Address | None) -> Address | None:
    if address is None:
        return None
    country = (address.country or "").strip().upper()
    if not is_country_code(country):
        errors.add(
            ErrorCode.INVALID_COUNTRY,
            _path("address", "country"),
            "Not an ISO 3166-1 alpha-2 country code (such as US, DE, JP).",
        )
    return Address(
        country=country,
        line1=_optional_line(errors, address.line1, "address", "line1"),
        line2=_optional_line(errors, address.line2, "address", "line2"),
        city=_optional_line(errors, address.city, "address", "city"),
        state=_optional_line(errors, address.state, "address", "state"),
        postal_code=_optional_line(errors, address.postal_code, "address", "postalCode"),
    )


_TAX_ID_VALUE = re.compile(r"^[A-Za-z0-9 .\-/]+$")


def _tax_ids(errors: FieldErrors, tax_ids: tuple[TaxId, ...]) -> tuple[TaxId, ...]:
    if len(tax_ids) > TAX_IDS_MAX:
        errors.add(ErrorCode.TOO_MANY, _path("taxIds"), f"At most {TAX_IDS_MAX} tax ids.")
    clean = []
    for index, tax_id in enumerate(tax_ids):
        value = (tax_id.value or "").strip()
        if not value:
            errors.add(ErrorCode.REQUIRED, _path("taxIds", str(index), "value"), "Required.")
        elif len(value) > TAX_ID_VALUE_MAX_LENGTH or not _TAX_ID_VALUE.match(value):
            errors.add(
                ErrorCode.INVALID,
                _path("taxIds", str(index), "value"),
                f"A tax id is up to {TAX_ID_VALUE_MAX_LENGTH} letters, digits, spaces, "
                "dots, dashes or slashes.",
            )
        clean.append(TaxId(tax_id.type, value))
    return tuple(clean)


def _metadata(errors: FieldErrors, metadata: Any) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        errors.add(ErrorCode.INVALID, _path("metadata"), "Metadata is an object of strings.")
        return {}
    if len(metadata) > METADATA_MAX_KEYS:
        errors.add(
            ErrorCode.TOO_MANY, _path("metadata"), f"At most {METADATA_MAX_KEYS} metadata keys."
        )
    for key, value in metadata.items():
        if not isinstance(key, str) or not key or len(key) > METADATA_KEY_MAX_LENGTH:
            errors.add(
                ErrorCode.INVALID,
                _path("metadata", str(key)[:METADATA_KEY_MAX_LENGTH]),
                f"Metadata keys are 1 to {METADATA_KEY_MAX_LENGTH} characters.",
            )
        elif not isinstance(value, str):
            errors.add(ErrorCode.INVALID, _path("metadata", key), "Metadata values are strings.")
        elif len(value) > METADATA_VALUE_MAX_LENGTH:
            errors.add(
                ErrorCode.TOO_LONG,
                _path("metadata", key),
                f"Metadata values are at most {METADATA_VALUE_MAX_LENGTH} characters.",
            )
    return dict(metadata)
