"""Schema evolution: a log written when RecognitionGiven had no `win_id` (version 1)
still reads, through the application, the views and an export, in today's shape."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent

from domain.journal import CheckIn
from domain.recognition import Recognition
from services.bootstrap import Container
from services.keel import Keel
from services.settings import Settings
from services.transfer import export_records, import_events, jsonl, read_jsonl

DAY = date(2025, 3, 3)


def members(keel: Keel) -> tuple[UUID, UUID, UUID]:
    team = keel.form_team(name="CS", manager="kay", actor="kay", occurred_on=DAY)
    lee, sandra = (
        keel.add_member(team.id, name=n, role=None, actor="kay", occurred_on=DAY).id
        for n in ("Lee", "Sandra")
    )
    return team.id, lee, sandra


def written_by_an_older_keel(
    keel: Keel, team: UUID, giver: UUID, to: UUID, *, drop: tuple[str, ...]
) -> tuple[UUID, dict[str, Any]]:
    """Store a recognition the way an older Keel did: today's event, sealed as ever,
    with the fields in `drop` taken out of its stored state."""
    recognition = Recognition.give(
        team_id=team,
        from_member_id=giver,
        to_member_id=to,
        win_id=None,
        from_manager=False,
        message="Great save!",
        actor=str(giver),
        occurred_on=DAY,
    )
    (event,) = recognition.collect_events()
    current = keel.mapper.to_stored_event(event)
    state = keel.mapper.transcoder.decode(current.state)
    for name in drop:
        del state[name]
    keel.recorder.insert_events(
        [
            StoredEvent(
                originator_id=current.originator_id,
                originator_version=1,
                topic=current.topic,
                state=keel.mapper.transcoder.encode(state),
            )
        ]
    )
    return recognition.id, state


def test_a_version_1_recognition_reads_as_version_2(container: Container) -> None:
    keel = container.keel
    team, lee, sandra = members(keel)
    recognition_id, stored = written_by_an_older_keel(
        keel, team, lee, sandra, drop=("win_id", "class_version")
    )
    assert "win_id" not in stored
    assert "class_version" not in stored

    recognition: object = keel.repository.get(recognition_id)
    assert isinstance(recognition, Recognition)
    assert (recognition.win_id, recognition.message) == (None, "Great save!")
    assert recognition.to_member_id == sandra

    # The views fold it like any recognition of a person.
    container.runner.catch_up()
    rows = container.work_life.select("SELECT * FROM recognitions")
    assert [(r["win_id"], r["to_member_id"]) for r in rows] == [(None, str(sandra))]

    # An export gives it in today's shape.
    (record,) = [
        r
        for r in export_records(keel)
        if r["type"] == "domain.recognition:Recognition.RecognitionGiven"
    ]
    assert record["version"] == 2
    assert record["data"]["win_id"] is None


def test_a_recognition_saved_today_is_stored_as_version_2(container: Container) -> None:
    keel = container.keel
    team, lee, sandra = members(keel)
    entry = keel.check_in(team, sandra, CheckIn(DAY, 4, wins=["renewal"]), actor=str(sandra))[1]
    win = UUID(entry.wins[0]["id"])
    recorded = keel.recognise(
        from_member_id=lee,
        to_member_id=sandra,
        win_id=win,
        message="Well done",
        actor=str(lee),
        occurred_on=DAY,
    )
    (stored,) = keel.recorder.select_events(recorded.id)
    state = keel.mapper.transcoder.decode(stored.state)
    assert state["class_version"] == 2
    assert state["win_id"] == win


def test_a_recognition_stored_before_versions_keeps_its_win(container: Container) -> None:
    """Logs written by Keel before RecognitionGiven had a class version already hold
    `win_id`, with no version marker: the upcaster must not overwrite it."""
    keel = container.keel
    team, lee, sandra = members(keel)
    recognition_id, stored = written_by_an_older_keel(
        keel, team, lee, sandra, drop=("class_version",)
    )
    win = uuid4()
    state = {**stored, "win_id": win}
    keel.recorder.insert_events(
        [
            StoredEvent(
                originator_id=uuid4(),
                originator_version=1,
                topic="domain.recognition:Recognition.RecognitionGiven",
                state=keel.mapper.transcoder.encode(state),
            )
        ]
    )
    events = [keel.mapper.to_domain_event(n) for n in keel.recorder.select_notifications(1, 100)]
    wins = [e.win_id for e in events if isinstance(e, Recognition.RecognitionGiven)]
    assert wins == [None, win]
    assert recognition_id != events[-1].originator_id


def test_a_version_1_export_line_imports_as_version_2(sqlite_settings: Settings) -> None:
    source = Keel(env=sqlite_settings.eventsourcing_env(Keel.name))
    elsewhere = sqlite_settings.model_copy(update={"data_dir": sqlite_settings.data_dir / "new"})
    target = Keel(env=elsewhere.eventsourcing_env(Keel.name))
    try:
        team, lee, sandra = members(source)
        recognition_id, _ = written_by_an_older_keel(source, team, lee, sandra, drop=())
        records = list(export_records(source))
        # The line as a Keel of version 1 exported it.
        records[-1]["version"] = 1
        del records[-1]["data"]["win_id"]
        lines = [jsonl(r).encode() for r in records]

        assert import_events(target, read_jsonl(lines)).added == len(records)
        recognition: object = target.repository.get(recognition_id)
        assert isinstance(recognition, Recognition)
        assert (recognition.win_id, recognition.message) == (None, "Great save!")
        # The upcast line equals what its own store holds: nothing to add there.
        again = import_events(source, read_jsonl(lines))
        assert (again.added, again.skipped) == (0, len(records))
    finally:
        source.close()
        target.close()
