"""Export and import of the event log, one JSON object per event.

A record is `{"position", "type", "version", "originator_id", "originator_version",
"occurred_on", "recorded_at", "data"}`: `type` is the event's topic, `version` its class
version, `occurred_on` the business day it describes (when it has one) and `data` the
rest of the event's state, in plain JSON.

Personal fields are exported in the clear, so an import into another store seals them
again under that store's keys (see services/personal_data.py): an export file is
personal data. An erased person's texts stay "[erased]". A manager's export over HTTP
withholds private notes (`null`, named in `"withheld"`), which only their author reads.

An import checks every line before it writes anything, then writes all new events in
one transaction. An event already stored with the same data is skipped, so a second
import of a file adds nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from enum import Enum
from functools import cache
from types import UnionType
from typing import (
    IO,
    Annotated,
    Any,
    ClassVar,
    Literal,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)
from uuid import UUID

from eventsourcing.domain import Aggregate, CanInitAggregate, DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Mapper, Notification, StoredEvent
from eventsourcing.utils import get_topic
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    create_model,
)

from domain.goal import Goal
from domain.journal import Journal
from domain.recognition import Recognition
from domain.team import Team
from services.keel import Keel
from services.personal_data import PERSONAL

COLUMNS = (
    "position",
    "type",
    "version",
    "originator_id",
    "originator_version",
    "occurred_on",
    "recorded_at",
    "data",
)
# The aggregates of the Keel application's log. Alerts live in a log of their own,
# derived from this one: an alert evaluator raises them again in the new store.
AGGREGATES: tuple[type[Aggregate], ...] = (Team, Goal, Journal, Recognition)
# The state every event has, carried by the record's own keys rather than in `data`.
_ENVELOPE_STATE = frozenset({"originator_id", "originator_version", "timestamp"})
_PRIVATE = "private_note"
Record = dict[str, Any]
# "validated" n more lines; "writing" n events or rows; "written" n more of them.
Stage = Literal["validated", "writing", "written"]
Progress = Callable[[Stage, int], None]


# --- event <-> record ------------------------------------------------------------------


def plain(value: Any) -> Any:
    """The value as plain JSON: ids and dates as strings."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _business_day(state: dict[str, Any]) -> Any:
    return state.get("occurred_on")


def to_record(
    event: DomainEventProtocol[UUID], position: int, *, withhold_private_notes: bool = False
) -> Record:
    state = dict(vars(event))
    originator_id = state.pop("originator_id")
    originator_version = state.pop("originator_version")
    timestamp: datetime = state.pop("timestamp")
    record: Record = {
        "position": position,
        "type": get_topic(type(event)),
        "version": getattr(type(event), "class_version", 1),
        "originator_id": str(originator_id),
        "originator_version": originator_version,
        "occurred_on": plain(_business_day(state)),
        "recorded_at": timestamp.isoformat(),
        "data": plain(state),
    }
    if withhold_private_notes and state.get(_PRIVATE) is not None:
        record["data"][_PRIVATE] = None
        record["withheld"] = [_PRIVATE]
    return record


def export_records(
    keel: Keel,
    *,
    team_id: UUID | None = None,
    withhold_private_notes: bool = False,
    page_size: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Record]:
    """The log up to its head as it is now, in order; with `team_id`, only the events
    of that team, its goals, its members' journals and its recognitions."""
    head = keel.head()
    # Telling whose an event is needs no personal text: read it sealed first.
    sealed = Mapper[UUID](keel.mapper.transcoder)
    ours: set[UUID] = set()

    def wanted(notification: Notification) -> bool:
        if team_id is None or notification.originator_id in ours:
            return True
        if notification.originator_version != 1:
            return False
        created = sealed.to_domain_event(notification)
        if created.originator_id == team_id or getattr(created, "team_id", None) == team_id:
            ours.add(created.originator_id)
            return True
        return False

    start = 1
    while start <= head:
        page = keel.recorder.select_notifications(start=start, limit=page_size, stop=head)
        if not page:
            break
        for notification in page:
            if wanted(notification):
                event = keel.mapper.to_domain_event(notification)
                yield to_record(
                    event, notification.id, withhold_private_notes=withhold_private_notes
                )
        if progress is not None:
            progress(len(page))
        start = page[-1].id + 1


def jsonl(record: Record) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_csv(records: Iterable[Record], out: IO[str]) -> None:
    """One row per event; `data` is a JSON column."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for record in records:
        row = {**record, "data": json.dumps(record["data"], ensure_ascii=False)}
        writer.writerow("" if row[c] is None else row[c] for c in COLUMNS)


# --- reading files ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LineError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class ImportRefused(Exception):
    """The file is refused whole; nothing was written."""

    def __init__(self, errors: Sequence[LineError]) -> None:
        super().__init__("; ".join(str(e) for e in errors[:3]))
        self.errors = list(errors)


# A line of a file: its number and its JSON text, or why it could not be read.
Line = tuple[int, str | LineError]


def read_jsonl(lines: Iterable[bytes]) -> Iterator[Line]:
    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            yield number, LineError(number, f"not UTF-8 text ({error.reason})")
            continue
        if text.strip():
            yield number, text


def read_csv(text: IO[str]) -> Iterator[Line]:
    """Rows written by `write_csv`, as JSON records."""
    reader = csv.DictReader(text)
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        yield 1, LineError(1, f"the header lacks the columns {', '.join(missing)}")
        return
    for row in reader:
        number = reader.line_num
        record: Record = {c: row[c] or None for c in COLUMNS}
        try:
            record["data"] = json.loads(row["data"] or "null")
        except ValueError as error:
            yield number, LineError(number, f"data: not JSON ({error})")
            continue
        for column in ("position", "version", "originator_version"):
            value = record[column]
            if value is not None and value.isdigit():
                record[column] = int(value)
        yield number, json.dumps(record)


# --- validating a record -------------------------------------------------------------


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    position: int | None = None
    type: str
    version: int = Field(ge=1)
    originator_id: UUID
    originator_version: int = Field(ge=1)
    occurred_on: date | None = None
    recorded_at: AwareDatetime
    data: dict[str, Any]
    withheld: list[str] = Field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class _Kind:
    event: type[Any]
    aggregate: type[Aggregate]


@cache
def _kinds() -> dict[str, _Kind]:
    """Every event class of every aggregate, by topic. A file names classes only from
    this list: an import never imports a module a file names."""
    kinds = {}
    for aggregate in AGGREGATES:
        for name, value in vars(aggregate).items():
            if (
                isinstance(value, type)
                and issubclass(value, Aggregate.Event)
                and name not in ("Event", "Created")
            ):
                kinds[get_topic(value)] = _Kind(value, aggregate)
    return kinds


def _keep_int(value: Any, check: ValidatorFunctionWrapHandler) -> Any:
    checked = check(value)
    return value if type(value) is int else checked


# JSON does not tell 90 from 90.0: a float field keeps the number the file holds, so a
# view that prints it shows what the source store showed.
_Number = Annotated[float, WrapValidator(_keep_int)]


def _keep_ints(hint: Any) -> Any:
    if hint is float:
        return _Number
    origin, args = get_origin(hint), get_args(hint)
    if origin in (list, dict):
        return origin[tuple(_keep_ints(a) for a in args)]
    if origin in (Union, UnionType):
        return Union[tuple(_keep_ints(a) for a in args)]  # noqa: UP007
    return hint


@cache
def _data_model(topic: str) -> type[BaseModel]:
    event = _kinds()[topic].event
    fields: dict[str, Any] = {
        name: (_keep_ints(hint), ...)
        for name, hint in get_type_hints(event).items()
        if name not in _ENVELOPE_STATE and get_origin(hint) is not ClassVar
    }
    config = ConfigDict(extra="forbid", strict=True)
    model: type[BaseModel] = create_model(f"{event.__name__}Data", __config__=config, **fields)
    return model


def _problems(error: ValidationError, prefix: str = "") -> str:
    return "; ".join(
        f"{prefix}{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}"
        for e in error.errors()
    )


@dataclasses.dataclass
class _Incoming:
    line: int
    event: DomainEventProtocol[UUID]
    withheld: tuple[str, ...]


def _envelope(text: str) -> _Envelope:
    try:
        return _Envelope.model_validate_json(text)
    except ValidationError as error:
        raise ValueError(_problems(error)) from None


def _event_of(number: int, envelope: _Envelope) -> _Incoming:
    """The event a record describes; a ValueError says why there is none."""
    kind = _kinds().get(envelope.type)
    if kind is None:
        raise ValueError(f"type: unknown event type {envelope.type!r}")
    current = getattr(kind.event, "class_version", 1)
    if envelope.version > current:
        raise ValueError(
            f"version: {envelope.type} version {envelope.version} is newer than this Keel "
            f"reads (up to {current})"
        )
    data = dict(envelope.data)
    for version in range(envelope.version, current):
        getattr(kind.event, f"upcast_v{version}_v{version + 1}")(data)
    try:
        checked = _data_model(envelope.type).model_validate_json(json.dumps(data))
    except ValidationError as error:
        raise ValueError(_problems(error, "data.")) from None
    state = dict(checked)
    unknown = [name for name in envelope.withheld if name not in state]
    if unknown:
        raise ValueError(f"withheld: {', '.join(unknown)} not fields of {envelope.type}")
    if envelope.occurred_on not in (None, _business_day(state)):
        raise ValueError(
            f"occurred_on: {envelope.occurred_on} is not the event's day {_business_day(state)}"
        )
    creates = issubclass(kind.event, CanInitAggregate)
    if creates != (envelope.originator_version == 1):
        raise ValueError(
            f"originator_version: {envelope.type} cannot be version {envelope.originator_version}"
        )
    if creates and state.get("originator_topic") != get_topic(kind.aggregate):
        raise ValueError(f"data.originator_topic: must be {get_topic(kind.aggregate)!r}")
    full = {
        **state,
        "originator_id": envelope.originator_id,
        "originator_version": envelope.originator_version,
        "timestamp": envelope.recorded_at,
    }
    event = object.__new__(kind.event)
    object.__setattr__(
        event, "__dict__", {f.name: full[f.name] for f in dataclasses.fields(kind.event)}
    )
    return _Incoming(number, event, tuple(envelope.withheld))


# --- importing -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ImportResult:
    events: int  # events in the file
    added: int
    skipped: int  # already in the store, with the same data
    head: int  # the head of the log afterwards


class StoreChanged(Exception):
    """Someone wrote to the same aggregates while the file was being checked."""


@dataclasses.dataclass
class _Aggregate:
    """What the store holds of one aggregate the file names."""

    stored_version: int
    last_in_file: int
    stored: dict[int, StoredEvent]


class _Importer:
    def __init__(self, keel: Keel) -> None:
        self.keel = keel
        self.aggregates: dict[UUID, _Aggregate] = {}
        self.new: list[_Incoming] = []
        self.skipped = 0

    def follow(self, originator_id: UUID, version: int) -> None:
        """Versions run on without a gap from what the store holds, then line by line.
        The version counts as seen even when refused, so one bad line is one error."""
        known = self.aggregates.get(originator_id)
        if known is None:
            self._look_up(originator_id, version)
            return
        previous, known.last_in_file = known.last_in_file, version
        if version != previous + 1:
            raise ValueError(
                f"originator_version: {version} does not follow {previous}, the previous "
                f"version of {originator_id} in the file"
            )

    def _look_up(self, originator_id: UUID, first: int) -> None:
        recorder = self.keel.recorder
        newest = recorder.select_events(originator_id, desc=True, limit=1)
        stored_version = newest[0].originator_version if newest else 0
        stored = recorder.select_events(originator_id, gt=first - 1) if stored_version else []
        self.aggregates[originator_id] = _Aggregate(
            stored_version, first, {s.originator_version: s for s in stored}
        )
        if first > stored_version + 1:
            held = f"up to version {stored_version}" if stored_version else "nothing"
            raise ValueError(
                f"originator_version: the file starts {originator_id} at version {first}, "
                f"but the store holds {held} of it"
            )

    def check(self, incoming: _Incoming) -> None:
        event = incoming.event
        stored = self.aggregates[event.originator_id].stored.pop(event.originator_version, None)
        if stored is None:
            self.new.append(incoming)
            return
        differences = self._differences(stored, incoming)
        if differences:
            raise ValueError(
                f"{event.originator_id} version {event.originator_version} is already "
                f"stored with another {', '.join(differences)}"
            )
        self.skipped += 1

    def _differences(self, stored: StoredEvent, incoming: _Incoming) -> list[str]:
        existing = self.keel.mapper.to_domain_event(stored)
        if type(existing) is not type(incoming.event):
            return [f"type ({get_topic(type(existing))})"]
        ignored = set(incoming.withheld)
        spec = PERSONAL.get(type(existing))
        if spec is not None and self.keel.vault.key(spec[0](existing), create=False) is None:
            # The person was erased here: their texts can no longer be compared.
            ignored.update(spec[1])
        ours, theirs = vars(existing), vars(incoming.event)
        return [n for n in ours if n not in ignored and ours[n] != theirs.get(n)]

    def _erased_here(self) -> set[UUID]:
        """People whose key is gone although the store holds their journal: they were
        erased here, and an import must not make new texts of theirs readable."""
        owners = set()
        for incoming in self.new:
            spec = PERSONAL.get(type(incoming.event))
            if spec is not None:
                owners.add(spec[0](incoming.event))
        return {
            key_id
            for key_id in owners
            if self._stored_here(key_id) and self.keel.vault.key(key_id, create=False) is None
        }

    def _stored_here(self, originator_id: UUID) -> bool:
        known = self.aggregates.get(originator_id)
        if known is not None:
            return known.stored_version > 0
        return bool(self.keel.recorder.select_events(originator_id, limit=1))

    def write(self) -> None:
        keel = self.keel
        # An erased person's texts are "[erased]" in the file and are sealed like any
        # other; what they wrote after their erasure stays readable, as it was.
        forget = self._erased_here()
        stored = [keel.mapper.to_stored_event(i.event) for i in self.new]
        if stored:
            try:
                keel.recorder.insert_events(stored)
            except IntegrityError:
                raise StoreChanged(
                    "another writer changed the same aggregates during the import; "
                    "nothing was written: run the import again"
                ) from None
        # Sealing gave people erased here a key again: delete it, so that what the file
        # brings of theirs cannot be read here either.
        for key_id in forget:
            keel.vault.forget(key_id)
        if stored:
            head = keel.head()
            for listener in keel.on_recorded:
                listener(head)


_PROGRESS_EVERY = 500


def import_events(
    keel: Keel, lines: Iterable[Line], progress: Progress | None = None
) -> ImportResult:
    """Check every line, then write every new event in one transaction, or nothing.
    Raises ImportRefused naming each bad line, or StoreChanged."""
    importer = _Importer(keel)
    errors: list[LineError] = []
    count = 0
    for number, text in lines:
        count += 1
        try:
            if isinstance(text, LineError):
                raise ValueError(text.reason)
            envelope = _envelope(text)
            importer.follow(envelope.originator_id, envelope.originator_version)
            importer.check(_event_of(number, envelope))
        except ValueError as error:
            errors.append(LineError(number, str(error)))
        if progress is not None and count % _PROGRESS_EVERY == 0:
            progress("validated", _PROGRESS_EVERY)
    if progress is not None:
        progress("validated", count % _PROGRESS_EVERY)
    if errors:
        raise ImportRefused(errors)
    if progress is not None:
        progress("writing", len(importer.new))
    importer.write()
    if progress is not None:
        progress("written", len(importer.new))
    return ImportResult(count, len(importer.new), importer.skipped, keel.head())


__all__ = [
    "COLUMNS",
    "ImportRefused",
    "ImportResult",
    "LineError",
    "StoreChanged",
    "export_records",
    "import_events",
    "jsonl",
    "read_csv",
    "read_jsonl",
    "to_record",
    "write_csv",
]
