"""The two ways a command can be refused by the domain."""

from __future__ import annotations


class DomainError(Exception):
    """Base class for every refusal the domain makes."""


class InvalidCommand(DomainError):
    """The command is malformed for this aggregate; `field` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def __reduce__(self) -> tuple[type[InvalidCommand], tuple[str, str]]:
        # Pickled with the arguments it was made from, not its text: the writer
        # process sends refusals back to the server.
        return type(self), (self.field, self.message)


class Conflict(DomainError):
    """The command is well formed but the aggregate's state forbids it."""
