"""Refusals raised by the service layer, beside the domain's own."""

from uuid import UUID


class NotFound(LookupError):
    def __init__(self, kind: str, id_: UUID | str) -> None:
        super().__init__(f"no {kind} with id {id_}")
        self.kind = kind
        self.id = id_


class VersionMismatch(Exception):
    """The caller's If-Match version is not the aggregate's current version."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected version {expected}, but it is at version {actual}")
        self.expected = expected
        self.actual = actual


class ViewNotCaughtUp(Exception):
    def __init__(self, position: int, reached: int | None) -> None:
        super().__init__(
            f"the view has reached position {reached or 0}, not yet {position}; retry shortly"
        )
