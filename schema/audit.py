"""The audit log: who changed what and when, for operators and auditors (scope
`audit:read`). Types and inputs of the concept."""

from __future__ import annotations

from datetime import datetime

import strawberry

import domain.audit as audit_domain
from schema.scalars import JSON

strawberry.enum(
    audit_domain.AuditOutcome,
    name="AuditOutcome",
    description="How an audited operation ended: OK; USER_ERRORS (refused, nothing written; "
    "`errorCodes` lists the userErrors' codes); ERROR (a GraphQL error, e.g. FORBIDDEN, or an "
    "unexpected one).",
)
AuditOutcome = audit_domain.AuditOutcome


@strawberry.type(
    description="One operation that ran: every mutation, and each `customerDataExport`. "
    "Entries are never changed nor deleted, and hold no personal data."
)
class AuditEntry:
    id: strawberry.ID = strawberry.field(description="The entry's id (`aud_…`).")
    occurred_at: datetime = strawberry.field(description="When the operation ended.")
    client_id: str = strawberry.field(description="The OAuth client whose token called.")
    subject: str | None = strawberry.field(
        description="The token's subject (`sub`): the client for tokens this server issues, "
        "a user or service for an external identity provider's."
    )
    operation: str = strawberry.field(description='The root field that ran, e.g. "createCustomer".')
    operation_name: str | None = strawberry.field(
        description="The request's `operationName` (or the operation's name), if any."
    )
    object_ids: list[strawberry.ID] = strawberry.field(
        description="Ids the input named and of the objects the answer carried."
    )
    input: JSON = strawberry.field(
        description="The input's shape: its keys, with ids, codes, amounts, enums, flags and "
        'times kept, and personal data and free text replaced by "[redacted]".'
    )
    outcome: AuditOutcome = strawberry.field(description="How it ended.")
    error_codes: list[str] = strawberry.field(
        description="userErrors' codes (USER_ERRORS) or the error's code (ERROR)."
    )
    request_id: str | None = strawberry.field(
        description="The request's `X-Request-Id` header, when it carried one."
    )

    @classmethod
    def from_domain(cls, entry: audit_domain.AuditEntry) -> AuditEntry:
        return cls(
            id=strawberry.ID(entry.id),
            occurred_at=entry.occurred_at,
            client_id=entry.client_id,
            subject=entry.subject,
            operation=entry.operation,
            operation_name=entry.operation_name,
            object_ids=[strawberry.ID(i) for i in entry.object_ids],
            input=JSON(entry.input),
            outcome=entry.outcome,
            error_codes=list(entry.error_codes),
            request_id=entry.request_id,
        )


@strawberry.input(description="Narrows the audit log; all given conditions must hold.")
class AuditLogFilter:
    operations: list[str] | None = strawberry.field(
        default=None, description='Root fields, e.g. `["createCustomer", "payInvoice"]`.'
    )
    client_id: str | None = strawberry.field(default=None, description="One OAuth client.")
    object_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only operations that named or answered this object."
    )
    occurred_after: datetime | None = strawberry.field(default=None, description="Inclusive.")
    occurred_before: datetime | None = strawberry.field(default=None, description="Exclusive.")
    outcomes: list[AuditOutcome] | None = strawberry.field(
        default=None, description="Only these outcomes."
    )
