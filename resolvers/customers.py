"""Customer queries and mutations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import strawberry

from domain import customers as model
from domain.errors import DomainError
from domain.ids import prefix_of
from domain.queries import CustomerFilter, CustomerSort, InvalidQuery, clean_filter_text
from domain.services import customers as services
from resolvers.errors import bad_user_input, user_errors
from resolvers.pagination import build_connection, encode_cursor, page_request
from schema import inputs
from schema.enums import SortDirection

if TYPE_CHECKING:
    from resolvers.context import Context


async def customer(info: strawberry.Info[Context], id: strawberry.ID) -> Any:
    from schema.types import Customer

    if prefix_of(id) != "cus":
        return None
    found = await info.context.loaders.customer_by_id.load(str(id))
    return Customer.from_domain(found) if found else None


async def customers(
    info: strawberry.Info[Context],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: inputs.CustomerFilter | None = None,
    order_by: inputs.CustomerOrder | None = None,
) -> Any:
    from schema.types import Customer

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
    where = CustomerFilter(
        email=email,
        search=search,
        created_after=filter.created_after if filter else None,
        created_before=filter.created_before if filter else None,
        archived=filter.archived if filter else None,
    )
    reads = info.context.reads
    rows = await reads.page_of_customers(where, sort, descending, page)
    loader = info.context.loaders.customer_by_id
    for row in rows:
        loader.prime(row.id, row)
    return build_connection(
        rows,
        page,
        cursor_of=lambda c: encode_cursor(sort.value, getattr(c, sort.value), c.id),
        to_node=Customer.from_domain,
        count_total=lambda: reads.count_customers(where),
    )


async def recent_events(root: Any, info: strawberry.Info[Context]) -> Any:
    from schema.types import Event

    found = await info.context.loaders.recent_events_by_object.load(str(root.id))
    return [Event.from_domain(event) for event in found]


def _address(value: inputs.AddressInput | None) -> model.Address | None:
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


def _tax_ids(values: list[inputs.TaxIdInput] | None) -> tuple[model.TaxId, ...]:
    return tuple(model.TaxId(value.type, value.value) for value in values or ())


def _given(value: Any) -> Any:
    return model.UNSET if value is strawberry.UNSET else value


def _required(value: Any) -> Any:
    # null for a field that cannot be cleared reads as empty, which its rule reports.
    return "" if value is None else _given(value)


async def create_customer(info: strawberry.Info[Context], input: inputs.CreateCustomerInput) -> Any:
    from schema.types import CreateCustomerPayload, Customer

    draft = model.CustomerDraft(
        name=input.name,
        currency=input.currency,
        email=input.email,
        external_id=input.external_id,
        address=_address(input.address),
        tax_ids=_tax_ids(input.tax_ids),
        metadata=input.metadata if input.metadata is not None else {},  # type: ignore[arg-type]
    )
    try:
        created = await services.create_customer(info.context.uow(), draft)
    except DomainError as error:
        return CreateCustomerPayload(customer=None, user_errors=user_errors(error))
    info.context.loaders.customer_by_id.prime(created.id, created)
    return CreateCustomerPayload(customer=Customer.from_domain(created), user_errors=[])


async def update_customer(info: strawberry.Info[Context], input: inputs.UpdateCustomerInput) -> Any:
    from schema.types import Customer, UpdateCustomerPayload

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
    )
    try:
        updated = await services.update_customer(info.context.uow(), str(input.id), changes)
    except DomainError as error:
        return UpdateCustomerPayload(customer=None, user_errors=user_errors(error))
    info.context.loaders.customer_by_id.clear(updated.id).prime(updated.id, updated)
    return UpdateCustomerPayload(customer=Customer.from_domain(updated), user_errors=[])


async def archive_customer(
    info: strawberry.Info[Context], input: inputs.ArchiveCustomerInput
) -> Any:
    from schema.types import ArchiveCustomerPayload, Customer

    try:
        archived = await services.archive_customer(info.context.uow(), str(input.id))
    except DomainError as error:
        return ArchiveCustomerPayload(customer=None, user_errors=user_errors(error))
    info.context.loaders.customer_by_id.clear(archived.id).prime(archived.id, archived)
    return ArchiveCustomerPayload(customer=Customer.from_domain(archived), user_errors=[])
