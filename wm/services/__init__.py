"""Domain services: the only layer that changes state. Each owns its transaction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func


class DomainError(Exception):
    """A refused operation, with the message the user sees and the HTTP status that fits."""

    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def refusals(self) -> list[DomainError]:
        """Each refusal this error stands for (itself alone, or the several of ``DomainErrors``)."""
        return [self]

    def by_field(self) -> dict[str, list[str]]:
        """The messages of the refusals that name a field, by field (what a form or an API problem lists)."""
        fields: dict[str, list[str]] = {}
        for refusal in self.refusals:
            if refusal.field:
                fields.setdefault(refusal.field, []).append(refusal.message)
        return fields


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


@dataclass(frozen=True)
class Origin:
    """Where a request came from, for the audit log (services never read ``flask.request``)."""

    ip_address: str | None = None
    user_agent: str | None = None


class DomainErrors(DomainError):
    """Several refusals at once, each naming its field, so a form can show them all together."""

    def __init__(self, errors: list[DomainError]) -> None:
        super().__init__(" ".join(error.message for error in errors))
        self.errors = errors

    @property
    def refusals(self) -> list[DomainError]:
        return self.errors


def contains(column: ColumnElement[str], text: str) -> ColumnElement[bool]:
    """A case-insensitive "``column`` contains ``text``" condition (LIKE, with its wildcards taken literally)."""
    pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
    return func.lower(column).like(pattern, escape="\\")
