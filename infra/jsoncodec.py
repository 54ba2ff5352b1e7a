"""JSON in and out of Ledgerline, with numbers kept exact.

A JSON number with a fraction or an exponent is read as a `Decimal`: as a float (orjson's
and the standard library's default) 1234567890.123456789 would silently become
1234567890.1234567, and 10000000000000000000000000.5 would become 1e25, on their way to a
usage quantity that is billed. Integers are Python ints, exact at any size. NaN and
Infinity are not JSON and are refused. Output goes through orjson, with each `Decimal`
written back as the number it is.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson


class InvalidJson(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not JSON")


def loads(data: bytes | str) -> Any:
    """Parses UTF-8 JSON text; any malformed input raises `InvalidJson`."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    # RecursionError: nesting deeper than Python's stack; ValueError: bad UTF-8, bad JSON,
    # an integer of more digits than Python converts.
    except (ValueError, RecursionError):
        raise InvalidJson("not valid JSON") from None


def _default(value: Any) -> Any:
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(str(value))
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_SORT_KEYS if sort_keys else None)
