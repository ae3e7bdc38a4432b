"""Refusals raised by the service layer, beside the domain's own."""

from __future__ import annotations

from uuid import UUID


class NotFound(LookupError):
    def __init__(self, kind: str, id_: UUID | str) -> None:
        super().__init__(f"no {kind} with id {id_}")
        self.kind = kind
        self.id = id_

    # Pickled with the arguments it was made from: the writer process sends refusals
    # back to the server (services/writer_process.py). So is VersionMismatch.
    def __reduce__(self) -> tuple[type[NotFound], tuple[str, UUID | str]]:
        return type(self), (self.kind, self.id)


class VersionMismatch(Exception):
    """The aggregate moved on: the caller's If-Match is stale, or another writer saved
    between our read and our write (`actual` is then unknown)."""

    def __init__(self, expected: int, actual: int | None) -> None:
        if actual is None:
            message = f"it was changed by someone else after version {expected}; reload and retry"
        else:
            message = f"expected version {expected}, but it is at version {actual}"
        super().__init__(message)
        self.expected = expected
        self.actual = actual

    def __reduce__(self) -> tuple[type[VersionMismatch], tuple[int, int | None]]:
        return type(self), (self.expected, self.actual)


class ViewNotCaughtUp(Exception):
    def __init__(self, position: int, reached: int | None) -> None:
        super().__init__(
            f"the view has reached position {reached or 0}, not yet {position}; retry shortly"
        )
