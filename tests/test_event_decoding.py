"""FastMapper decodes every stored event exactly as eventsourcing's Mapper does."""

from __future__ import annotations

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


def _same(expected: object, actual: object) -> None:
    assert type(actual) is type(expected)
    assert actual.__dict__ == expected.__dict__
    for name, value in expected.__dict__.items():
        assert type(actual.__dict__[name]) is type(value), name


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


SHAPES: dict[str, dict[str, Any]] = {
    "plain": {
        "day": DAY,
        "maybe": None,
        "anything": "text",
        "amounts": {},
        "texts": ["a", "b"],
        "numbers": (1, 2),
    },
    "nested objects": {
        "day": DAY,
        "maybe": uuid4(),
        "anything": {"when": [DAY, {"who": uuid4()}], "n": 3},
        "amounts": {"a": Decimal("1.50"), "b": Decimal("-2")},
        "texts": [],
        "numbers": (),
    },
    "a dict that looks like an object": {
        "day": DAY,
        "maybe": None,
        "anything": {"_type_": "uuid_hex", "_data_": uuid4().hex, "extra": 1},
        "amounts": {},
        "texts": ["_type_", "_data_"],
        "numbers": (),
    },
}


@pytest.mark.parametrize("fields", SHAPES.values(), ids=SHAPES.keys())
def test_every_shape_of_field_decodes_the_same(fields: dict[str, Any]) -> None:
    transcoder, stored = _stored(**fields)
    _same(
        Mapper[UUID](transcoder).to_domain_event(stored),
        FastMapper(transcoder).to_domain_event(stored),
    )


def test_a_field_the_class_does_not_declare_is_decoded_too() -> None:
    transcoder, stored = _stored(**SHAPES["plain"])
    state = transcoder.decode(stored.state)
    state["later"] = {"on": DAY}
    stored = StoredEvent(stored.originator_id, 2, stored.topic, transcoder.encode(state))

    decoded = FastMapper(transcoder).to_domain_event(stored)

    assert decoded.__dict__["later"] == {"on": DAY}
    _same(Mapper[UUID](transcoder).to_domain_event(stored), decoded)


@pytest.mark.parametrize(
    "value",
    [float("inf"), 2**70, -(2**70), 2**64, -(2**63) - 1, 2**64 - 1, -(2**63)],
    ids=[
        "Infinity, which orjson refuses",
        "2**70",
        "-2**70",
        "2**64",
        "-2**63 - 1",
        "2**64 - 1, the last orjson reads as an int",
        "-2**63, the first",
    ],
)
def test_what_orjson_reads_otherwise_is_decoded_by_eventsourcing(value: float) -> None:
    transcoder, stored = _stored(**{**SHAPES["plain"], "anything": [value]})

    decoded = FastMapper(transcoder).to_domain_event(stored)

    assert decoded.__dict__["anything"] == [value]
    assert type(decoded.__dict__["anything"][0]) is type(value)


def test_an_unregistered_type_fails_as_in_eventsourcing() -> None:
    transcoder, stored = _stored(**SHAPES["plain"])
    state = stored.state.replace(b'"date_iso"', b'"no_such_type"')
    stored = StoredEvent(stored.originator_id, 2, stored.topic, state)

    for mapper in (Mapper[UUID](transcoder), FastMapper(transcoder)):
        with pytest.raises(MapperDeserialisationError, match="no_such_type"):
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

    decoded = FastMapper(transcoder).to_domain_event(old)

    assert decoded.__dict__["win_id"] is None
    _same(Mapper[UUID](transcoder).to_domain_event(old), decoded)
