"""The audit log: recording every operation that changes (or discloses) data, and listing it.

Recording happens in one place: `audit_operations` wraps the resolver of every root mutation
field of the schema (and of the queries in AUDITED_QUERIES), so a mutation added later is
audited without a line of its own. The entry is written in the request's transaction, after
the field answered: it commits with the mutation's writes or not at all. payInvoice and
refundPayment commit their phases in transactions of their own (a provider's charge cannot
be rolled back); their entry records the answer the request gave.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLID,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLSchema,
    get_nullable_type,
)
from strawberry.utils.str_converters import to_snake_case

from domain.audit import (
    MAX_OBJECT_IDS,
    REDACTED,
    AuditEntry,
    AuditEntryDraft,
    AuditFilter,
    AuditNotRecorded,
    AuditOutcome,
    is_personal,
    keeps_text,
    names_an_id,
)
from domain.ids import prefix_of
from domain.services.audit import record_operation
from resolvers.pagination import Page, build_page, encode_cursor, page_request

if TYPE_CHECKING:
    from resolvers.context import Context
    from schema.audit import AuditLogFilter
else:
    AuditLogFilter = strawberry.LazyType("AuditLogFilter", "schema.audit")

# Queries that disclose a person's data wholesale: each run is audited like a mutation.
AUDITED_QUERIES = frozenset({"customerDataExport"})
_MAX_LIST_ITEMS = 50
_MAX_REQUEST_ID = 200


def audit_operations(schema: GraphQLSchema) -> None:
    """Wraps the resolvers of the root mutation fields and of AUDITED_QUERIES in `schema`."""
    roots = [(schema.mutation_type, None), (schema.query_type, AUDITED_QUERIES)]
    for root, only in roots:
        if root is None:
            continue
        for name, field in root.fields.items():
            if (only is None or name in only) and field.resolve is not None:
                field.resolve = _audited(name, field.resolve)


def _audited(operation: str, resolve: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    async def audited(root: Any, info: Any, **arguments: Any) -> Any:
        try:
            answer = resolve(root, info, **arguments)
            if isawaitable(answer):
                answer = await answer
        except Exception as error:
            await _record(info, operation, arguments, None, error)
            raise
        await _record(info, operation, arguments, answer, None)
        return answer

    return audited


async def _record(
    info: Any,
    operation: str,
    arguments: Mapping[str, Any],
    answer: Any,
    error: Exception | None,
) -> None:
    context: Context = info.context
    principal = context.principal
    outcome, codes = _outcome(answer, error)
    field = info.parent_type.fields[info.field_name]
    summary = {
        name: summarize(value, field.args[name].type, name)
        for name, value in arguments.items()
        if name in field.args
    }
    request_id = None if context.request is None else context.request.headers.get("x-request-id")
    draft = AuditEntryDraft(
        # Cut to the columns' bounds: an external issuer's ids or a long operation name must
        # not make the entry, and with it the mutation, fail.
        client_id=principal.client_id[:255],
        subject=principal.subject,
        operation=operation,
        operation_name=None if info.operation.name is None else info.operation.name.value[:200],
        object_ids=_object_ids(summary, answer),
        input=summary,
        outcome=outcome,
        error_codes=codes,
        request_id=None if request_id is None else request_id[:_MAX_REQUEST_ID],
    )
    try:
        # A unit of work is a savepoint on the request's one connection: fields take turns.
        async with context.unit_of_work_turn:
            await record_operation(context.uow(), draft)
    except Exception as failure:
        # The endpoint answers the request as failed and rolls it back (infra/http).
        raise AuditNotRecorded(operation) from failure


def _outcome(answer: Any, error: Exception | None) -> tuple[AuditOutcome, tuple[str, ...]]:
    if error is not None:
        code = None
        if isinstance(error, GraphQLError):
            code = (error.extensions or {}).get("code")
        return AuditOutcome.ERROR, (str(code or "INTERNAL_SERVER_ERROR"),)
    user_errors = getattr(answer, "user_errors", None) or ()
    codes = tuple(dict.fromkeys(_code(e) for e in user_errors))
    return (AuditOutcome.USER_ERRORS, codes) if codes else (AuditOutcome.OK, ())


def _code(user_error: Any) -> str:
    code = user_error.code
    return str(code.value if isinstance(code, Enum) else code)


def summarize(value: Any, type_: GraphQLInputType, key: str | None = None) -> Any:
    """A coerced GraphQL argument as the audit log keeps it: its structure and keys, with
    personal data and free text replaced (domain/audit.py has the rules), read alongside
    its GraphQL type (an enum's value is text too, and is kept)."""
    if key is not None and is_personal(to_snake_case(key)):
        return REDACTED
    named = get_nullable_type(type_)
    if value is None:
        return None
    if isinstance(named, GraphQLInputObjectType) and isinstance(value, Mapping):
        return {
            name: summarize(item, named.fields[name].type, name)
            for name, item in value.items()
            if name in named.fields
        }
    if isinstance(named, GraphQLList) and isinstance(value, list | tuple):
        return [summarize(item, named.of_type, key) for item in value[:_MAX_LIST_ITEMS]]
    if isinstance(named, GraphQLEnumType):
        return value.name if isinstance(value, Enum) else str(value)
    if isinstance(value, bool | int):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        field = "" if key is None else to_snake_case(key)
        if named is GraphQLID or names_an_id(field):
            return value if prefix_of(value) is not None and len(value) <= 64 else REDACTED
        if keeps_text(field):
            return value[:255]
    return REDACTED  # free text, JSON values, anything unforeseen


def _object_ids(summary: Mapping[str, Any], answer: Any) -> tuple[str, ...]:
    """The ids the input named and the objects the answer carries, in that order, once."""
    found = dict.fromkeys([*_ids_in(summary), *_answered_ids(answer)])
    return tuple(found)[:MAX_OBJECT_IDS]


def _ids_in(summary: Any) -> Iterable[str]:
    """The object ids among the values the summary kept (ids and codes only)."""
    if isinstance(summary, Mapping):
        for item in summary.values():
            yield from _ids_in(item)
    elif isinstance(summary, list):
        for item in summary:
            yield from _ids_in(item)
    elif isinstance(summary, str) and summary != REDACTED and prefix_of(summary) is not None:
        yield summary


def _answered_ids(answer: Any) -> Iterable[str]:
    if not dataclasses.is_dataclass(answer) or isinstance(answer, type):
        return
    for f in dataclasses.fields(answer):
        value = getattr(answer, f.name, None)
        for item in value if isinstance(value, list) else [value]:
            identifier = getattr(item, "id", None)
            if identifier is None and isinstance(item, str) and f.name.endswith("_id"):
                identifier = item
            if isinstance(identifier, str) and prefix_of(identifier) is not None:
                yield identifier


async def audit_log(
    info: strawberry.Info[Context],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: AuditLogFilter | None = None,
) -> Page[AuditEntry]:
    where = AuditFilter()
    if filter is not None:
        where = AuditFilter(
            operations=tuple(filter.operations or ()),
            client_id=filter.client_id,
            object_id=None if filter.object_id is None else str(filter.object_id),
            occurred_after=filter.occurred_after,
            occurred_before=filter.occurred_before,
            outcomes=tuple(filter.outcomes or ()),
        )
    page = page_request(
        first=first, after=after, last=last, before=before, sort="occurred_at", is_datetime=True
    )
    reads = info.context.reads.audit
    rows = await reads.page(where, True, page)
    return build_page(
        rows,
        page,
        cursor_of=lambda e: encode_cursor("occurred_at", e.occurred_at, e.id),
        count_total=lambda: reads.count(where),
    )
