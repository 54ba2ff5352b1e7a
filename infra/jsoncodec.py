"""JSON in and out of Ledgerline, with numbers kept exact.

A JSON number is read exactly, never through a float: as a float (orjson's and the standard
library's default) 1234567890.123456789 would silently become 1234567890.1234567, and
10000000000000000000000000.5 would become 1e25, on their way to a usage quantity that is
billed. Each number is read as its value: a whole number (`2`, `2.0`, `2e0`) as an `int`
when it fits 64 bits, anything else as a `Decimal` without trailing zeros (`1.50` is 1.5).
Numbers beyond 10^±1000 (PostgreSQL's numeric could not hold some of them), NaN and
Infinity are refused. Output goes through orjson, with each `Decimal` written back as the
number it is; orjson refuses to write nesting deeper than 255 levels (`TypeError`).
"""

from __future__ import annotations

import json
from decimal import Context, Decimal
from typing import Any

import orjson

MAX_EXPONENT = 1000
_INT64 = 2**63


class InvalidJson(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not JSON")


def _number(text: str) -> int | Decimal:
    if len(text) > MAX_EXPONENT + 64:
        raise InvalidJson("a number is out of range")
    value = Decimal(text)
    if value and not -MAX_EXPONENT <= value.adjusted() <= MAX_EXPONENT:
        raise InvalidJson("a number is out of range")
    if value == value.to_integral_value():
        whole = int(value)
        # beyond 64 bits a Decimal, which orjson can write (as plain digits)
        return whole if -_INT64 <= whole < _INT64 else Decimal(whole)
    # Trailing zeros carry no value; normalize() is exact at the number's own precision.
    return value.normalize(Context(prec=max(1, len(value.as_tuple().digits))))


def _integer(text: str) -> int | Decimal:
    # 18 characters, sign included, always fit 64 bits: the common case skips Decimal.
    return int(text) if len(text) <= 18 else _number(text)


def loads(data: bytes | str) -> Any:
    """Parses UTF-8 JSON text; any malformed input raises `InvalidJson`."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(
            text, parse_float=_number, parse_int=_integer, parse_constant=_refuse_constant
        )
    # RecursionError: nesting deeper than Python's stack; ValueError: bad UTF-8, bad JSON.
    except (ValueError, RecursionError):
        raise InvalidJson("not valid JSON") from None
    return value


def _default(value: Any) -> Any:
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(str(value))
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_SORT_KEYS if sort_keys else None)
