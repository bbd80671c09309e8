"""GraphQL errors the schema raises on purpose; each carries an `extensions.code` so masking keeps it."""

from __future__ import annotations

from graphql import GraphQLError


class CodedError(GraphQLError):
    """An expected top-level error: its message and code reach the client unmasked."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, extensions={"code": code})


def not_implemented(operation: str) -> CodedError:
    return CodedError(f"{operation} is not implemented yet in this gateway version.", "NOT_IMPLEMENTED")


def forbidden(message: str = "The token's scopes do not allow this field.") -> CodedError:
    return CodedError(message, "FORBIDDEN")


def limit_exceeded(message: str) -> CodedError:
    return CodedError(message, "LIMIT_EXCEEDED")
