"""Tax rates: queries and mutations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from domain import queries
from domain.errors import DomainError
from domain.queries import InvalidQuery, SortDirection, clean_filter_text
from domain.services import tax_rates as services
from domain.taxes import TaxRate, TaxRateDraft
from resolvers.errors import Outcome, bad_user_input, done, refused
from resolvers.pagination import Page, build_page, encode_cursor, page_request

if TYPE_CHECKING:
    from resolvers.context import Context
    from schema.tax_rates import CreateTaxRateInput, TaxRateFilter, TaxRateOrder
else:
    # The schema's types its arguments take, by name: the schema imports resolvers, not
    # the reverse.
    CreateTaxRateInput = strawberry.LazyType("CreateTaxRateInput", "schema.tax_rates")
    TaxRateFilter = strawberry.LazyType("TaxRateFilter", "schema.tax_rates")
    TaxRateOrder = strawberry.LazyType("TaxRateOrder", "schema.tax_rates")


async def tax_rates(
    info: strawberry.Info[Context],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: TaxRateFilter | None = None,
    order_by: TaxRateOrder | None = None,
) -> Page[TaxRate]:
    descending = (order_by.direction if order_by else SortDirection.DESC) == SortDirection.DESC
    page = page_request(
        first=first, after=after, last=last, before=before, sort="created_at", is_datetime=True
    )
    try:
        country = clean_filter_text(filter.country if filter else None, name="country")
    except InvalidQuery as exc:
        raise bad_user_input(str(exc)) from None
    where = queries.TaxRateFilter(
        country=None if country is None else country.upper(),
        active=filter.active if filter else None,
    )
    reads = info.context.reads
    rows = await reads.tax_rates.page(where, descending, page)
    loader = info.context.loaders.by_id("txr")
    for row in rows:
        loader.prime(row.id, row)
    return build_page(
        rows,
        page,
        cursor_of=lambda r: encode_cursor("created_at", r.created_at, r.id),
        count_total=lambda: reads.tax_rates.count(where),
    )


async def create_tax_rate(
    info: strawberry.Info[Context], input: CreateTaxRateInput
) -> Outcome[TaxRate]:
    draft = TaxRateDraft(
        display_name=input.display_name,
        percentage=input.percentage,
        inclusive=input.inclusive,
        country=input.country,
        region=input.region,
        active=input.active,
        description=input.description,
    )
    try:
        created = await services.create_tax_rate(info.context.uow(), draft)
    except DomainError as error:
        return refused(error)
    info.context.loaders.by_id("txr").prime(created.id, created)
    return done(created)
