"""`UserError`: what a mutation reports when a rule refused its input."""

from __future__ import annotations

from collections.abc import Iterable

import strawberry

from domain.errors import ErrorCode, FieldError

# strawberry.enum registers the domain's enum class itself (and returns it); naming that
# class here, rather than the call's result, is what lets type checkers read it as a type.
strawberry.enum(ErrorCode, name="UserErrorCode", description="Why a mutation refused its input.")
UserErrorCode = ErrorCode


@strawberry.type(description="One thing wrong with a mutation's input. Nothing was written.")
class UserError:
    code: UserErrorCode = strawberry.field(description="Machine-readable reason.")
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. `["input", "email"]`.'
    )
    message: str = strawberry.field(description="Explanation for humans; may change.")

    @classmethod
    def from_domain(cls, error: FieldError) -> UserError:
        return cls(
            code=error.code,
            field=list(error.field) if error.field is not None else None,
            message=error.message,
        )


def user_errors_from(errors: Iterable[FieldError]) -> list[UserError]:
    return [UserError.from_domain(error) for error in errors]
