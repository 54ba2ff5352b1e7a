"""Customer queries and mutations."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

import strawberry

from domain import customers as model
from domain import queries
from domain.errors import DomainError
from domain.events import Event
from domain.queries import CustomerSort, InvalidQuery, SortDirection, clean_filter_text
from domain.services import customers as services
from resolvers.errors import Outcome, bad_user_input, done, refused
from resolvers.nodes import load_by_id
from resolvers.pagination import Page, build_page, encode_cursor, page_request

if TYPE_CHECKING:
    from resolvers.context import Context
    from schema.customers import (
        AddressInput,
        ArchiveCustomerInput,
        CreateCustomerInput,
        Customer,
        CustomerFilter,
        CustomerOrder,
        TaxIdInput,
        UpdateCustomerInput,
    )
else:
    # The schema's types its arguments take, by name: the schema imports resolvers, not
    # the reverse.
    ArchiveCustomerInput = strawberry.LazyType("ArchiveCustomerInput", "schema.customers")
    CreateCustomerInput = strawberry.LazyType("CreateCustomerInput", "schema.customers")
    CustomerFilter = strawberry.LazyType("CustomerFilter", "schema.customers")
    CustomerOrder = strawberry.LazyType("CustomerOrder", "schema.customers")
    UpdateCustomerInput = strawberry.LazyType("UpdateCustomerInput", "schema.customers")


async def customer(info: strawberry.Info[Context], id: strawberry.ID) -> model.Customer | None:
    found: model.Customer | None = await load_by_id(info, "cus", str(id))
    return found


async def customers(
    info: strawberry.Info[Context],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: CustomerFilter | None = None,
    order_by: CustomerOrder | None = None,
) -> Page[model.Customer]:
    sort = CustomerSort(order_by.field.value) if order_by else CustomerSort.CREATED_AT
    descending = (order_by.direction if order_by else SortDirection.DESC) == SortDirection.DESC
    page = page_request(
        first=first,
        after=after,
        last=last,
        before=before,
        sort=sort.value,
        is_datetime=sort is CustomerSort.CREATED_AT,
    )
    try:
        email = clean_filter_text(filter.email if filter else None, name="email", max_length=254)
        search = clean_filter_text(filter.search if filter else None, name="search")
    except InvalidQuery as exc:
        raise bad_user_input(str(exc)) from None
    where = queries.CustomerFilter(
        email=email,
        search=search,
        created_after=filter.created_after if filter else None,
        created_before=filter.created_before if filter else None,
        archived=filter.archived if filter else None,
    )
    reads = info.context.reads
    rows = await reads.customers.page(where, sort, descending, page)
    loader = info.context.loaders.by_id("cus")
    for row in rows:
        loader.prime(row.id, row)
    return build_page(
        rows,
        page,
        cursor_of=lambda c: encode_cursor(sort.value, getattr(c, sort.value), c.id),
        count_total=lambda: reads.customers.count(where),
    )


async def recent_events(root: Customer, info: strawberry.Info[Context]) -> list[Event]:
    found: list[Event] = await info.context.loaders.recent_events_by_object.load(str(root.id))
    return found


def _address(value: AddressInput | None) -> model.Address | None:
    if value is None:
        return None
    return model.Address(
        country=value.country,
        line1=value.line1,
        line2=value.line2,
        city=value.city,
        state=value.state,
        postal_code=value.postal_code,
    )


def _tax_ids(values: list[TaxIdInput] | None) -> tuple[model.TaxId, ...]:
    return tuple(model.TaxId(value.type, value.value) for value in values or ())


def _given(value: Any) -> Any:
    return model.UNSET if value is strawberry.UNSET else value


def _required(value: Any) -> Any:
    # null for a field that cannot be cleared reads as empty, which its rule reports.
    return "" if value is None else _given(value)


async def create_customer(
    info: strawberry.Info[Context], input: CreateCustomerInput
) -> Outcome[model.Customer]:
    draft = model.CustomerDraft(
        name=input.name,
        currency=input.currency,
        email=input.email,
        external_id=input.external_id,
        address=_address(input.address),
        tax_ids=_tax_ids(input.tax_ids),
        metadata=input.metadata if input.metadata is not None else {},  # type: ignore[arg-type]
        tax_exempt=input.tax_exempt.value,
        preferred_locale=input.preferred_locale,
        net_terms_days=input.net_terms_days,
    )
    try:
        created = await services.create_customer(info.context.uow(), draft)
    except DomainError as error:
        return refused(error)
    info.context.loaders.by_id("cus").prime(created.id, created)
    return done(created)


async def update_customer(
    info: strawberry.Info[Context], input: UpdateCustomerInput
) -> Outcome[model.Customer]:
    changes = model.CustomerChanges(
        name=_required(input.name),
        currency=_required(input.currency),
        email=_given(input.email),
        external_id=_given(input.external_id),
        address=model.UNSET if input.address is strawberry.UNSET else _address(input.address),
        tax_ids=model.UNSET if input.tax_ids is strawberry.UNSET else _tax_ids(input.tax_ids),
        metadata=(
            model.UNSET if input.metadata is strawberry.UNSET else (input.metadata or {})  # type: ignore[arg-type]
        ),
        tax_exempt=_required(
            input.tax_exempt.value if isinstance(input.tax_exempt, Enum) else input.tax_exempt
        ),
        preferred_locale=_required(input.preferred_locale),
        net_terms_days=_given(input.net_terms_days),
    )
    try:
        updated = await services.update_customer(info.context.uow(), str(input.id), changes)
    except DomainError as error:
        return refused(error)
    info.context.loaders.by_id("cus").clear(updated.id).prime(updated.id, updated)
    return done(updated)


async def archive_customer(
    info: strawberry.Info[Context], input: ArchiveCustomerInput
) -> Outcome[model.Customer]:
    try:
        archived = await services.archive_customer(info.context.uow(), str(input.id))
    except DomainError as error:
        return refused(error)
    info.context.loaders.by_id("cus").clear(archived.id).prime(archived.id, archived)
    return done(archived)
