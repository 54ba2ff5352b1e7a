"""GraphQL over HTTP on /graphql: auth, one tenant transaction per request, idempotency.

Written directly on Starlette rather than strawberry's view so that the request owns one
database transaction (row-level security scoped to its tenant), the exact response bytes
can be stored for idempotent replay, and parsed documents are cached.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLFormattedError,
    OperationType,
    get_operation_ast,
    parse,
    print_ast,
)
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from strawberry.types.graphql import OperationType as StrawberryOperationType

from auth.backend import PrincipalUser
from auth.principal import Principal
from domain.audit import AuditNotRecorded
from domain.payments import PaymentProvider
from domain.ports import Clock
from domain.webhooks import DestinationPolicy
from infra import idempotency, jsoncodec
from infra.clock import SYSTEM_CLOCK
from infra.db import (
    STATEMENT_TIMEOUT_SECONDS,
    TenantConnection,
    read_transaction,
    tenant_transaction,
)
from infra.db_errors import DatabaseUnavailable, is_database_unavailable
from infra.http.errors import error_response, server_error, server_error_response
from infra.http.fair_use import GraphQLRates, QueryCosts, quota_headers
from infra.http.graphiql import GraphiQLPage
from infra.http.media_types import BadRequest, request_error_status
from infra.http.request_log import note_graphql_operation
from infra.http.screening import RefusedRequest, screen_body, screen_request
from infra.payments import PaymentProviders
from infra.planned import NotPlannable, Planner, verify
from infra.planned.planner import Scope
from infra.reads import SqlReads
from infra.repositories.accounts import account_exists
from infra.request_tasks import settled_tasks
from infra.secret_box import SecretBox, is_sealed
from infra.uow import SqlUnitOfWork
from resolvers.context import Context
from schema.schema import MAX_TOKENS

MAX_BODY_BYTES = 1_000_000
_QUERIES_ONLY = frozenset({StrawberryOperationType.QUERY})
_QUERIES_AND_MUTATIONS = frozenset(
    {StrawberryOperationType.QUERY, StrawberryOperationType.MUTATION}
)
_SUGGESTION = re.compile(r" Did you mean .*\?$")
PLANNED_ANSWERS = Counter(
    "ledgerline_graphql_planned_answers_total", "Queries answered from compiled plans"
)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    document: DocumentNode
    normalised: str


@lru_cache(maxsize=512)
def _parse(query: str) -> ParsedDocument:
    document = parse(query, max_tokens=MAX_TOKENS)
    return ParsedDocument(document, print_ast(document))


async def _run_all(runners: list[tuple[str, Any]], scope: Scope) -> dict[str, Any] | None:
    """The roots' answers, or None when one gives way to the executor after its statements
    ran: the transaction then ends as a read's does, its connection pooled again (an
    exception through the transaction would close it as one in doubt)."""
    try:
        return {key: await run(scope) for key, run in runners}
    except NotPlannable:
        return None


def _operation_type(document: DocumentNode, operation_name: str | None) -> OperationType | None:
    operation = get_operation_ast(document, operation_name)
    return None if operation is None else operation.operation


# How long a payment's phase waits for the invoice or payment it locks: concurrent payments
# and refunds of one invoice queue for less than that; past it (a request that changed the
# invoice earlier holds it until it ends) the mutation answers BUSY.
MONEY_LOCK_TIMEOUT_SECONDS = 5.0


class GraphQLEndpoint:
    def __init__(
        self,
        schema: strawberry.Schema,
        engine: AsyncEngine,
        *,
        graphiql: GraphiQLPage | None,
        production: bool,
        statement_timeout: float = STATEMENT_TIMEOUT_SECONDS,
        planner: Planner | None = None,
        verify_planned: bool = False,
        clock: Clock = SYSTEM_CLOCK,
        payment_providers: PaymentProviders | None = None,
        money_engine: AsyncEngine | None = None,
        secret_box: SecretBox,
        webhook_destinations: DestinationPolicy,
        query_costs: QueryCosts,
        rates: GraphQLRates | None = None,
    ) -> None:
        self.schema = schema
        self.query_costs = query_costs
        self.rates = rates
        self.secret_box = secret_box
        self.webhook_destinations = webhook_destinations
        self.clock = clock
        self.payment_providers = payment_providers
        self.engine = engine
        # Payments' own transactions, on a pool of their own: a request holding one
        # connection never waits for a second from the pool it holds (64 concurrent
        # refunds would otherwise drain it and wait on each other).
        self.money_engine = money_engine or engine
        self.planner = planner
        self.verify_planned = verify_planned
        self.statement_timeout = statement_timeout
        self.graphiql = graphiql
        self.production = production
        self._known_accounts: set[str] = set()

    async def __call__(self, request: Request) -> Response:
        if request.method == "GET" and "query" not in request.query_params:
            if self.graphiql is not None and "text/html" in request.headers.get("accept", ""):
                return self.graphiql(request)
            return error_response(
                400, "Send a query: POST a JSON body or GET ?query=.", "BAD_REQUEST"
            )
        user = request.user
        if not isinstance(user, PrincipalUser):
            return error_response(
                401,
                "Authentication required: send Authorization: Bearer <access token>.",
                "UNAUTHENTICATED",
                {"WWW-Authenticate": 'Bearer realm="ledgerline"'},
            )
        try:
            query, variables, operation_name, raw = await self._read_request(request)
            if raw is None:
                screen_request(query, variables, operation_name)
            else:
                screen_body(raw, query, variables, operation_name)
        except RefusedRequest as exc:
            return error_response(400, str(exc), exc.code)
        except ClientDisconnect:  # nobody is left to read it
            return error_response(400, "The client closed the connection.", "BAD_REQUEST")
        except ValueError as exc:
            status = exc.status if isinstance(exc, BadRequest) else 422
            return error_response(request_error_status(request, status), str(exc), "BAD_REQUEST")
        try:
            parsed = _parse(query)
        except GraphQLError as exc:
            return self._json(400, {"errors": [_with_code(exc.formatted, "GRAPHQL_PARSE_FAILED")]})
        operation = _operation_type(parsed.document, operation_name)
        note_graphql_operation(parsed.document, operation_name)
        if operation is None:
            return error_response(
                request_error_status(request, 422),
                "Could not pick one operation: name it in operationName.",
                "BAD_REQUEST",
            )
        if operation is OperationType.SUBSCRIPTION:
            return error_response(400, "Subscriptions are not served over HTTP.", "BAD_REQUEST")
        if request.method == "GET" and operation is OperationType.MUTATION:
            return error_response(
                405,
                "GET runs queries only; send mutations with POST.",
                "METHOD_NOT_ALLOWED",
                {"Allow": "POST"},
            )
        # Costed and charged before anything runs, planned or executed.
        cost = self.query_costs.cost(parsed.document, parsed.normalised, operation_name, variables)
        refusal = self.query_costs.refusal(cost)
        if refusal is not None:
            return refusal
        headers: dict[str, str] = {}
        if self.rates is not None:
            refusal, quota = await self.rates.spend(user.principal, cost)
            if refusal is not None:
                return refusal
            headers = {} if quota is None else quota_headers(quota)
        response = await self._answer(
            request, user, parsed, query, variables, operation_name, operation, cost
        )
        response.headers.update(headers)
        return response

    async def _answer(
        self,
        request: Request,
        user: PrincipalUser,
        parsed: ParsedDocument,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        operation: OperationType,
        cost: int,
    ) -> Response:
        key = request.headers.get("idempotency-key")
        if operation is not OperationType.MUTATION:
            key = None
            planned = await self._answer_planned(
                user.principal, parsed, variables, operation_name, cost
            )
            if planned is not None and self.verify_planned:
                verifying = verify.VERIFYING.set(True)
                try:
                    executed = await self._execute(
                        request, user, parsed, query, variables, operation_name, None, cost
                    )
                finally:
                    verify.VERIFYING.reset(verifying)
                same = verify.compare(
                    verify.Difference(
                        query,
                        variables,
                        operation_name,
                        user.principal.scopes,
                        (planned.status_code, bytes(planned.body)),
                        (executed.status_code, bytes(executed.body)),
                    )
                )
                return planned if same else executed
            if planned is not None:
                return planned
        return await self._execute(
            request, user, parsed, query, variables, operation_name, key, cost
        )

    async def _execute(
        self,
        request: Request,
        user: PrincipalUser,
        parsed: ParsedDocument,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        key: str | None,
        cost: int,
    ) -> Response:
        principal = user.principal
        request_fingerprint = ""
        try:
            if key is not None:
                idempotency.check_key(key)
                request_fingerprint = idempotency.fingerprint(
                    parsed.normalised, operation_name, variables, principal.scopes
                )
            async with tenant_transaction(
                self.engine, principal.tenant_id, statement_timeout=self.statement_timeout
            ) as db:
                if not await self._account_exists(db, principal.tenant_id):
                    return error_response(
                        403,
                        "The token's account does not exist on this server.",
                        "UNKNOWN_ACCOUNT",
                    )
                if key is not None:
                    stored = await idempotency.claim(db, key, request_fingerprint)
                    if stored is not None:
                        return Response(
                            self._stored_body(stored.body, principal.tenant_id, key),
                            stored.status,
                            media_type="application/json",
                            headers={"Idempotent-Replayed": "true"},
                        )
                context = self._context(principal, db, request)
                context.query_cost = cost
                # Fields still running when execution returns (siblings of a failed
                # non-null field, loader batches) end before the transaction does.
                async with settled_tasks(grace=self.statement_timeout + 1):
                    result = await self.schema.execute(
                        query,
                        variable_values=variables,
                        context_value=context,
                        operation_name=operation_name,
                        allowed_operation_types=(
                            _QUERIES_ONLY if request.method == "GET" else _QUERIES_AND_MUTATIONS
                        ),
                    )
                _raise_if_database_unavailable(result)
                _raise_if_unaudited(result)
                executed = context.began_executing and not _refused_before_execution(result)
                status = 200 if executed else request_error_status(request, 422)
                # GraphQL's own refusals carry no code: the document did not validate, or
                # (once execution began) the variables did not fit their types.
                refusal = (
                    "BAD_USER_INPUT" if context.began_executing else "GRAPHQL_VALIDATION_FAILED"
                )
                body = self._encode(result, executed=executed, refusal_code=refusal, cost=cost)
                if key is not None and executed:
                    kept = body
                    if context.answers_secret:
                        kept = self.secret_box.seal(
                            body, bound_to=_idempotent_response(principal.tenant_id, key)
                        )
                    await idempotency.remember(
                        db, key, request_fingerprint, idempotency.StoredResponse(status, kept)
                    )
        except idempotency.IdempotencyError as exc:
            return error_response(exc.status, exc.message, exc.code.value)
        except Exception as exc:  # the database went away, or a bug: rolled back, answered
            return server_error_response(exc, "graphql")
        return Response(body, status, media_type="application/json")

    async def _answer_planned(
        self,
        principal: Principal,
        parsed: ParsedDocument,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        cost: int,
    ) -> Response | None:
        """The planned path's answer, or None when the executor must answer (no plan, an
        argument or variable the executor words an error about, an account not yet seen)."""
        if self.planner is None or principal.tenant_id not in self._known_accounts:
            return None
        plan = self.planner.plan(
            parsed.document, parsed.normalised, operation_name, principal.scopes
        )
        if plan is None:
            return None
        try:
            runners = plan.bind(self.planner.schema, variables, principal)
            if plan.needs_context:  # a root answered by its own resolver, on the ORM's reads
                async with tenant_transaction(
                    self.engine, principal.tenant_id, statement_timeout=self.statement_timeout
                ) as db:
                    scope = Scope(db, self._context(principal, db, None))
                    data = await _run_all(runners, scope)
            elif plan.needs_database:
                async with read_transaction(
                    self.engine, principal.tenant_id, statement_timeout=self.statement_timeout
                ) as db:
                    data = await _run_all(runners, Scope(db))
            else:
                data = await _run_all(runners, Scope(None))
        except NotPlannable:
            return None
        except Exception as exc:
            return server_error_response(exc, "graphql")
        if data is None:  # the plan gave way to the executor once its statements had run
            return None
        PLANNED_ANSWERS.inc()
        body = jsoncodec.dumps({"data": data, "extensions": {"cost": cost}})
        return Response(body, 200, media_type="application/json")

    def _context(self, principal: Principal, db: TenantConnection, request: Any) -> Context:
        return Context(
            principal=principal,
            reads=SqlReads(db),
            new_unit_of_work=lambda: SqlUnitOfWork(db, secret_box=self.secret_box),
            clock=self.clock,
            webhook_destinations=self.webhook_destinations,
            request=request,
            new_payment_provider=self._payment_provider_of(principal.tenant_id),
            new_money_unit_of_work=lambda: SqlUnitOfWork.owning(
                self.money_engine,
                principal.tenant_id,
                statement_timeout=self.statement_timeout,
                secret_box=self.secret_box,
                lock_timeout=MONEY_LOCK_TIMEOUT_SECONDS,
            ),
        )

    def _payment_provider_of(self, tenant_id: str) -> Callable[[], PaymentProvider] | None:
        providers = self.payment_providers
        return None if providers is None else lambda: providers.for_tenant(tenant_id)

    def _stored_body(self, body: bytes, tenant_id: str, key: str) -> bytes:
        """A kept response as it was sent: opened if it was kept sealed (it carries a secret)."""
        if not is_sealed(body):
            return body
        return self.secret_box.open(body, bound_to=_idempotent_response(tenant_id, key))

    async def _account_exists(self, db: Any, tenant_id: str) -> bool:
        # Accounts are never deleted, so one that exists is remembered; an external identity
        # provider may name one that was never created here.
        if tenant_id in self._known_accounts:
            return True
        if await account_exists(db, tenant_id):
            self._known_accounts.add(tenant_id)
            return True
        return False

    def _encode(self, result: Any, *, executed: bool, refusal_code: str, cost: int) -> bytes:
        payload: dict[str, Any] = {}
        if result.errors:
            payload["errors"] = [self._format_error(error) for error in result.errors]
            if not executed:
                payload["errors"] = [_with_code(e, refusal_code) for e in payload["errors"]]
        if executed:  # a request refused before execution has no `data` (GraphQL spec)
            payload["data"] = result.data
            payload["extensions"] = {"cost": cost}
        return jsoncodec.dumps(payload)

    def _format_error(self, error: GraphQLError) -> GraphQLFormattedError:
        formatted = error.formatted
        if _is_unexpected(error):
            # A bug, not the caller's doing: logged with an id the caller can quote to us;
            # in production the answer says nothing about internals.
            assert error.original_error is not None
            where = ".".join(str(part) for part in error.path or ()) or "request"
            _, entry = server_error(error.original_error, where)
            if self.production:
                formatted["message"] = entry["message"]
            formatted["extensions"] = entry["extensions"]
        elif self.production:
            formatted["message"] = _SUGGESTION.sub("", formatted["message"])
        return formatted

    @staticmethod
    def _json(status: int, payload: Any) -> Response:
        return Response(jsoncodec.dumps(payload), status, media_type="application/json")

    @staticmethod
    async def _read_request(
        request: Request,
    ) -> tuple[str, dict[str, Any] | None, str | None, str | None]:
        """query, variables, operationName, and the raw JSON body (None for GET)."""
        if request.method == "GET":
            params = request.query_params
            raw_variables = params.get("variables")
            try:
                variables = jsoncodec.loads(raw_variables) if raw_variables else None
            except jsoncodec.InvalidJson:
                raise BadRequest("`variables` is not valid JSON.", 400) from None
            return (*_checked(params.get("query"), variables, params.get("operationName")), None)
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/json"):
            raise BadRequest("POST a JSON body with Content-Type: application/json.", 415)
        body = await read_body(request, MAX_BODY_BYTES)
        try:
            payload = jsoncodec.loads(body)
        except jsoncodec.InvalidJson:
            raise BadRequest("The request body is not valid JSON (UTF-8).", 400) from None
        if not isinstance(payload, dict):
            raise BadRequest("The body is one JSON object {query, variables, operationName}.")
        checked = _checked(
            payload.get("query"), payload.get("variables"), payload.get("operationName")
        )
        return (*checked, body.decode("utf-8"))


def _idempotent_response(tenant_id: str, key: str) -> str:
    return f"idempotency_keys/{tenant_id}/{key}"


def _with_code(formatted: GraphQLFormattedError, code: str) -> GraphQLFormattedError:
    extensions = formatted.get("extensions") or {}
    if "code" not in extensions:
        formatted["extensions"] = {**extensions, "code": code}
    return formatted


def _is_unexpected(error: GraphQLError) -> bool:
    """Errors raised on purpose (a code in extensions), GraphQL's own (validation, variable
    coercion, scalar parsing) are the caller's; anything else is a bug."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False
    return not (error.extensions or {}).get("code")


def _raise_if_database_unavailable(result: Any) -> None:
    """A field that lost the database fails the whole request: its transaction is gone, so
    the rest of the answer (and a mutation's writes) cannot be vouched for. 503: retry."""
    for error in result.errors or ():
        original = error.original_error
        if (
            original is not None
            and not isinstance(original, GraphQLError)
            and is_database_unavailable(original)
        ):
            raise DatabaseUnavailable("a field could not reach the database") from original


def _raise_if_unaudited(result: Any) -> None:
    """An operation whose audit entry could not be written is not kept: the request fails
    and its transaction, the operation's writes with it, rolls back."""
    for error in result.errors or ():
        if isinstance(error.original_error, AuditNotRecorded):
            raise error.original_error


def _refused_before_execution(result: Any) -> bool:
    """Variables that do not fit the operation are refused before any field runs: a request
    error (400, not stored for replay), though strawberry reports it from execution."""
    return (
        result.data is None
        and bool(result.errors)
        and all(error.path is None for error in result.errors)
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused past `limit` bytes without reading the rest into memory."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"The request body is over {limit} bytes.", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"The request body is over {limit} bytes.", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def _checked(
    query: Any, variables: Any, operation_name: Any
) -> tuple[str, dict[str, Any] | None, str | None]:
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("`query` is required and is a string.")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("`variables` is a JSON object.")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadRequest("`operationName` is a string.")
    return query, variables, operation_name
