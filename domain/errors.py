"""The two ways a command can be refused by the domain."""


class DomainError(Exception):
    """Base class for every refusal the domain makes."""


class InvalidCommand(DomainError):
    """The command is malformed for this aggregate; `field` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Conflict(DomainError):
    """The command is well formed but the aggregate's state forbids it."""
