"""FastMapper decodes every stored event exactly as eventsourcing's Mapper does."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, DomainEvent
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
    UUIDAsHex,
)
from eventsourcing.utils import get_topic

from domain.goal import Goal
from domain.journal import CheckIn, Journal
from domain.recognition import Recognition
from domain.team import Team
from services.bootstrap import Container, bootstrap
from services.demo import load_demo
from services.event_decoding import FastMapper
from services.keel import DateAsISO
from services.log_pages import LoggedEvent, page_reader
from services.settings import Settings

DAY = date(2026, 3, 18)


@pytest.fixture(scope="module")
def demo_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    """The demo story, plus the events it does not tell: a correction and an erasure."""
    data_dir: Path = tmp_path_factory.mktemp("demo")
    container = bootstrap(Settings(store="sqlite", data_dir=data_dir))
    try:
        loaded = load_demo(container.keel, today=DAY)
        keel = container.keel
        team = keel.team(next(iter(loaded.teams.values())))
        member = next(iter(team.members))
        last_day = max(keel.journal(member).entries)
        keel.correct_check_in(
            member, CheckIn(last_day, 2, ["again"], [], ["a win"], ["stuck"]), actor="x"
        )
        keel.erase_member(member, actor="x", occurred_on=DAY)
        yield container
    finally:
        container.close()


def _typed(value: Any) -> Any:
    """A value with the type of everything in it, so that 1 and 1.0, or 0.0 and -0.0,
    or a date and its text, never compare equal."""
    if isinstance(value, dict):
        return (dict, {key: _typed(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return (type(value), [_typed(item) for item in value])
    return (type(value), repr(value))


def _same(expected: object, actual: object) -> None:
    assert type(actual) is type(expected)
    assert _typed(actual.__dict__) == _typed(expected.__dict__)


def _decoded_alike(transcoder: Transcoder, stored: StoredEvent) -> Any:
    """FastMapper's event, once it is known to equal eventsourcing's."""
    ours = FastMapper(transcoder).to_domain_event(stored)
    _same(Mapper[UUID](transcoder).to_domain_event(stored), ours)
    return ours


def test_every_event_of_the_demo_decodes_as_eventsourcing_decodes_it(
    demo_log: Container,
) -> None:
    keel = demo_log.keel
    transcoder = keel.mapper.transcoder
    theirs, ours = Mapper[UUID](transcoder), FastMapper(transcoder)
    topics = set()
    for notification in keel.recorder.select_notifications(start=1, limit=1_000_000):
        _same(theirs.to_domain_event(notification), ours.to_domain_event(notification))
        topics.add(notification.topic)
    # Every kind of event Keel records, so that one with new field types is seen here
    # as soon as the demo (or the two commands above) records it.
    classes = {
        cls
        for aggregate in (Team, Goal, Journal, Recognition)
        for cls in vars(aggregate).values()
        # eventsourcing defines an `Event` and a `Created` in every aggregate class.
        if isinstance(cls, type)
        and issubclass(cls, DomainEvent)
        and cls.__name__ not in ("Event", "Created")
    }
    recorded = {
        get_topic(cls)
        for cls in classes
        if not any(other is not cls and issubclass(other, cls) for other in classes)
    }
    assert recorded - topics == set()


def test_every_event_of_the_demo_read_as_the_runner_reads_it_decodes_the_same(
    demo_log: Container,
) -> None:
    keel = demo_log.keel
    theirs, ours = Mapper[UUID](keel.mapper.transcoder), FastMapper(keel.mapper.transcoder)
    logged = page_reader(keel.recorder)(1, 1_000_000)
    assert {type(item) for item in logged} == {LoggedEvent}
    for item, notification in zip(
        logged, keel.recorder.select_notifications(start=1, limit=1_000_000), strict=True
    ):
        _same(theirs.to_domain_event(notification), ours.to_domain_event(item))


def test_every_alert_of_the_demo_decodes_as_eventsourcing_decodes_it(
    demo_log: Container,
) -> None:
    demo_log.alert_process.catch_up()
    alerts = demo_log.alerts
    theirs, ours = Mapper[UUID](alerts.mapper.transcoder), FastMapper(alerts.mapper.transcoder)
    notifications = alerts.recorder.select_notifications(start=1, limit=1_000_000)
    assert {n.topic.rsplit(".", 1)[1] for n in notifications} >= {"AlertRaised", "AlertCleared"}
    for notification in notifications:
        _same(theirs.to_domain_event(notification), ours.to_domain_event(notification))


# --- the cases the demo does not have -------------------------------------------------


class Odd(Aggregate):
    """An aggregate whose events hold every shape a field can take."""

    class Happened(Aggregate.Event):
        day: date
        maybe: UUID | None
        anything: Any
        amounts: dict[str, Decimal]
        texts: list[str]
        numbers: tuple[int, ...]
        untyped: typing.List  # type: ignore[type-arg]  # noqa: UP006


def _stored(**fields: Any) -> tuple[JSONTranscoder, StoredEvent]:
    keel_like = _transcoder()
    event = Odd.Happened(
        originator_id=uuid4(),
        originator_version=2,
        timestamp=datetime(2026, 3, 18, 9, 30, tzinfo=UTC),
        **fields,
    )
    return keel_like, Mapper[UUID](keel_like).to_stored_event(event)


def _transcoder() -> JSONTranscoder:
    """A transcoder with Keel's transcodings, and Decimal's."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)
    return transcoder


# Ids with no long run of digits, so that their events take FastMapper's own path.
ID = UUID("7d3f5a2e-9b1c-4e8a-a6f0-c2d4e6b8a1f3")
OTHER_ID = UUID("c0ffee00-aaaa-4bbb-8ccc-ddddeeeeffff")
PLAIN: dict[str, Any] = {
    "day": DAY,
    "maybe": None,
    "anything": "text",
    "amounts": {},
    "texts": ["a", "b"],
    "numbers": (1, 2),
    "untyped": [],
}
SHAPES: dict[str, dict[str, Any]] = {
    "plain": PLAIN,
    "nested objects": {
        **PLAIN,
        "maybe": ID,
        "anything": {"when": [DAY, {"who": OTHER_ID}], "n": 3},
        "amounts": {"a": Decimal("1.50"), "b": Decimal("-2")},
        "untyped": [ID, DAY],
    },
    "a dict that looks like an object": {
        **PLAIN,
        "anything": {"_type_": "uuid_hex", "_data_": ID.hex, "extra": 1},
        "texts": ["_type_", "_data_"],
    },
    "an object with no _type_": {**PLAIN, "anything": {"_data_": "x", "note": 1}},
    "numbers orjson reads as json does": {
        **PLAIN,
        "anything": [10**18 - 1, -(10**18) + 1, 0.0, -0.0, 1e308, 5e-324, 0.1, True, None],
        "numbers": (10**18 - 1, -(10**18) + 1),
    },
}


@pytest.mark.parametrize("fields", SHAPES.values(), ids=SHAPES.keys())
def test_every_shape_of_field_decodes_the_same(fields: dict[str, Any]) -> None:
    _decoded_alike(*_stored(**fields))


def test_a_field_the_class_does_not_declare_is_decoded_too() -> None:
    transcoder, stored = _stored(**PLAIN)
    state = transcoder.decode(stored.state)
    state["later"] = {"on": DAY}
    stored = StoredEvent(stored.originator_id, 2, stored.topic, transcoder.encode(state))

    decoded = _decoded_alike(transcoder, stored)

    assert decoded.__dict__["later"] == {"on": DAY}


@pytest.mark.parametrize(
    "value",
    [float("inf"), 2**70, -(2**70), 2**64, -(2**63) - 1, 2**64 - 1, -(2**63)],
    ids=[
        "Infinity, which orjson refuses",
        "2**70",
        "-2**70",
        "2**64",
        "-2**63-1",
        "2**64-1",
        "-2**63",
    ],
)
def test_what_orjson_would_read_otherwise_is_decoded_by_eventsourcing(value: float) -> None:
    # orjson refuses Infinity, and reads an integer outside 64 bits as a float; every
    # integer with 19 digits or more goes to eventsourcing.
    transcoder, stored = _stored(**{**PLAIN, "anything": [value]})

    decoded = _decoded_alike(transcoder, stored)

    assert decoded.__dict__["anything"] == [value]
    # The same, read as the runner reads the log: a tuple, not a StoredEvent.
    assert isinstance(stored.originator_id, UUID)
    logged = LoggedEvent(
        7, stored.originator_id, stored.originator_version, stored.topic, stored.state
    )
    _same(decoded, FastMapper(transcoder).to_domain_event(logged))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ((b'"date_iso"', b'"no_such_type"'), "no_such_type"),  # a field declared a date
        ((b'"text"', b'{"_type_":"nope","_data_":"x"}'), "nope"),  # an Any field
        ((b'"text"', b'{"_type_":["l"],"_data_":"x"}'), "unhashable"),
        ((b'"text"', b'{"_type_":"uuid_hex","_data_":"hello"}'), "hexadecimal"),
    ],
    ids=["unregistered", "unregistered, nested", "a _type_ that is a list", "a bad UUID"],
)
def test_a_state_that_cannot_be_decoded_fails_as_in_eventsourcing(
    change: tuple[bytes, bytes], error: str
) -> None:
    transcoder, stored = _stored(**PLAIN)
    state = stored.state.replace(*change)
    assert state != stored.state
    stored = StoredEvent(stored.originator_id, 2, stored.topic, state)

    for mapper in (Mapper[UUID](transcoder), FastMapper(transcoder)):
        with pytest.raises(MapperDeserialisationError, match=error):
            mapper.to_domain_event(stored)


def test_an_old_version_of_an_event_is_upcast_as_in_eventsourcing(demo_log: Container) -> None:
    keel = demo_log.keel
    transcoder = keel.mapper.transcoder
    (given, *_) = (
        n
        for n in keel.recorder.select_notifications(start=1, limit=1_000_000)
        if n.topic == get_topic(Recognition.RecognitionGiven)
    )
    state = transcoder.decode(given.state)
    del state["win_id"]
    state.pop("class_version", None)  # written before versions: version 1
    old = StoredEvent(
        given.originator_id, given.originator_version, given.topic, transcoder.encode(state)
    )

    decoded = _decoded_alike(transcoder, old)

    assert decoded.__dict__["win_id"] is None


class Versioned(Aggregate):
    """An event whose fields changed type: version 1 held a UUID and a date."""

    class Happened(Aggregate.Event):
        class_version = 2
        ref: str
        on: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["ref"] = str(state["ref"])
            state["on"] = state["on"].isoformat()


def test_an_upcaster_sees_the_state_as_eventsourcing_decodes_it() -> None:
    transcoder = _transcoder()
    state = {"timestamp": datetime(2026, 3, 18, 9, 30, tzinfo=UTC), "ref": ID, "on": DAY}
    topic = get_topic(Versioned.Happened)
    old = StoredEvent(ID, 1, topic, transcoder.encode(state))  # no class_version: 1

    decoded = _decoded_alike(transcoder, old)

    assert (decoded.__dict__["ref"], decoded.__dict__["on"]) == (str(ID), DAY.isoformat())
