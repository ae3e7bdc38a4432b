"""Check-ins from CSV: every row checked first and named by its line, every domain rule
applied, and a second run of the same file adds nothing."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

import pytest

from domain import calendar
from domain.journal import CheckIn
from domain.team import DepartureReason
from services.bootstrap import Container, bootstrap
from services.checkin_import import CheckInImportResult, import_checkins, read_rows
from services.errors import NotFound
from services.keel import Keel
from services.settings import Settings
from services.transfer import ImportRefused, LineError

HEADER = "day,member,mood,progress,setbacks,wins,blockers\n"


@dataclass(frozen=True)
class Team:
    id: UUID
    other: UUID
    sandra: UUID
    lee: UUID
    cy: UUID  # on the other team


def form(keel: Keel) -> Team:
    joined = date(2025, 1, 7)
    team = keel.form_team(name="CS", manager="kay", actor="kay", occurred_on=date(2025, 1, 6))
    other = keel.form_team(name="Ops", manager="mo", actor="mo", occurred_on=date(2025, 1, 6))
    sandra, lee, _, _, ana = (
        keel.add_member(team.id, name=name, role=None, actor="kay", occurred_on=joined).id
        for name in ("Sandra", "Lee", "Sam", "Sam", "Ana")
    )
    cy = keel.add_member(other.id, name="Cy", role=None, actor="mo", occurred_on=joined).id
    keel.record_departure(
        team.id,
        lee,
        reason=DepartureReason.MOVED_ON,
        note=None,
        actor="kay",
        occurred_on=date(2025, 3, 4),
    )
    keel.erase_member(ana, actor="kay", occurred_on=date(2025, 3, 5))
    return Team(team.id, other.id, sandra, lee, cy)


def run(keel: Keel, text: str, team: UUID | None) -> CheckInImportResult:
    return import_checkins(keel, read_rows(io.StringIO(text)), team_id=team, actor="importer")


def refused(keel: Keel, text: str, team: UUID | None) -> list[str]:
    head = keel.head()
    with pytest.raises(ImportRefused) as refusal:
        run(keel, text, team)
    assert keel.head() == head  # nothing written
    return [str(e) for e in refusal.value.errors]


@pytest.fixture
def keel(sqlite_settings: Settings) -> Iterator[Keel]:
    built = Keel(env=sqlite_settings.eventsourcing_env(Keel.name))
    try:
        yield built
    finally:
        built.close()


def test_rows_become_check_ins_once(container: Container) -> None:
    keel = container.keel
    team = form(keel)
    text = HEADER + (
        f"2025-03-03,Sandra,4,called two customers; wrote docs ,,closed a renewal,\n"
        f"2025-03-03,{team.lee},2,,flaky CI,,no VPN;no laptop\n"
        f"2025-03-04, sandra ,3,follow-ups,,,\n"
    )

    first = run(keel, text, team.id)

    assert (first.rows, first.added, first.skipped) == (3, 3, 0)
    sandra = keel.journal(team.sandra).entries
    assert sandra[date(2025, 3, 3)].progress == ["called two customers", "wrote docs"]
    assert [w["text"] for w in sandra[date(2025, 3, 3)].wins] == ["closed a renewal"]
    assert sandra[date(2025, 3, 4)].mood == 3
    lee = keel.journal(team.lee).entries[date(2025, 3, 3)]
    assert (lee.mood, lee.setbacks) == (2, ["flaky CI"])
    assert [b["text"] for b in lee.blockers] == ["no VPN", "no laptop"]
    container.runner.catch_up()
    rows = container.work_life.select("SELECT COUNT(*) AS n FROM checkins")
    assert rows[0]["n"] == 3

    head = keel.head()
    second = run(keel, text, team.id)

    assert (second.added, second.skipped, second.head) == (0, 3, head)
    assert keel.head() == head


def test_a_bad_row_in_the_middle_refuses_the_file(keel: Keel) -> None:
    team = form(keel)
    text = HEADER + (
        "2025-03-03,Sandra,4,a,,,\n"
        "2025-03-04,Sandra,6,b,,,\n"  # mood out of range
        "2025-03-05,Sandra,4,c,,,\n"
    )
    assert refused(keel, text, team.id) == ["line 3: mood: must be an integer from 1 to 5, not 6"]
    assert keel.journal(team.sandra).entries == {}


def test_every_bad_row_is_named_by_its_line(keel: Keel) -> None:
    team = form(keel)
    run(keel, HEADER + "2025-03-03,Sandra,4,calls,,,\n", team.id)
    tomorrow = calendar.today() + timedelta(days=2)
    text = HEADER + (
        "2025-03-03,Sandra,5,calls,,,\n"  # 2: differs from what is stored
        "03/03/2025,Sandra,4,,,,\n"  # 3
        "2025-03-04,Sandra,good,,,,\n"  # 4
        f"{tomorrow},Sandra,4,,,,\n"  # 5
        "2025-03-04,Nobody,4,,,,\n"  # 6
        "2025-03-04,Sam,4,,,,\n"  # 7: two Sams
        f"2025-03-04,{team.cy},4,,,,\n"  # 8: on another team
        f"2025-03-05,{team.lee},4,,,,\n"  # 9: Lee left on the 4th
        "2025-01-06,Sandra,4,,,,\n"  # 10: before Sandra joined
        "2025-03-06,Sandra,4,,,,\n"  # 11
        "2025-03-06,Sandra,3,,,,\n"  # 12: a second check-in that day
        "2025-03-06,[erased],3,,,,\n"  # 13: an erased name names nobody
        f"2025-03-04,{UUID(int=5)},3,,,,\n"  # 14
        "2025-03-07,Sandra,3\n"  # 15
    )
    errors = refused(keel, text, team.id)
    assert errors == [
        f"line 2: day: {team.sandra} already checked in on 2025-03-03 with other content; "
        "send a correction instead",
        "line 3: day: '03/03/2025' is not a date (YYYY-MM-DD)",
        "line 4: mood: 'good' is not a whole number",
        f"line 5: day: {tomorrow} is in the future",
        f"line 6: member: no member named 'Nobody' on team {team.id}",
        f"line 7: member: 2 members of team {team.id} are named 'Sam': use their id",
        f"line 8: member: {team.cy} is not a member of team {team.id}",
        f"line 9: day: member {team.lee} was not on the team on 2025-03-05",
        f"line 10: day: member {team.sandra} was not on the team on 2025-01-06",
        f"line 12: day: line 11 is already {team.sandra}'s check-in on 2025-03-06",
        f"line 13: member: no member named '[erased]' on team {team.id}",
        f"line 14: member: no member with id {UUID(int=5)}",
        "line 15: expected 7 cells",
    ]


def test_names_need_a_team_and_ids_do_not(keel: Keel) -> None:
    team = form(keel)
    assert refused(keel, HEADER + "2025-03-03,Sandra,4,,,,\n", None) == [
        "line 2: member: 'Sandra' is not a member id; name the team to use names"
    ]
    result = run(keel, HEADER + f"2025-03-03,{team.cy},4,,,,\n", None)
    assert result.added == 1
    assert keel.journal(team.cy).entries[date(2025, 3, 3)].mood == 4
    with pytest.raises(NotFound):
        run(keel, HEADER, UUID(int=9))


def test_the_header_must_name_the_columns(keel: Keel) -> None:
    team = form(keel)
    errors = refused(keel, "day,person,mood,progress,setbacks,wins,blockers,notes\n", team.id)
    assert errors == [
        "line 1: missing columns: member; unknown columns: person, notes "
        "(expected day, member, mood, progress, setbacks, wins, blockers)"
    ]
    # Any order will do, and blank lines are skipped.
    result = run(
        keel,
        "member,day,mood,wins,progress,setbacks,blockers\n\nSandra,2025-03-03,2,,,,\n",
        team.id,
    )
    assert result.added == 1


def test_a_check_in_made_meanwhile_stops_the_writes_and_keeps_the_rows_before(
    sqlite_settings: Settings,
) -> None:
    container = bootstrap(sqlite_settings)
    try:
        keel = container.keel
        team = form(keel)
        rows = list(
            read_rows(io.StringIO(HEADER + "2025-03-03,Sandra,4,a,,,\n2025-03-04,Sandra,4,b,,,\n"))
        )

        def racing_rows() -> Iterator[tuple[int, dict[str, str] | LineError]]:
            yield from rows
            # Someone checks in for the 4th after the file was checked.
            keel.check_in(team.id, team.sandra, CheckIn(date(2025, 3, 4), 1), actor="sandra")

        with pytest.raises(ImportRefused) as refusal:
            import_checkins(keel, racing_rows(), team_id=team.id, actor="importer")
        (error,) = refusal.value.errors
        assert str(error).startswith("line 3: ")
        assert str(error).endswith("(1 rows before it were recorded)")
        assert set(keel.journal(team.sandra).entries) == {date(2025, 3, 3), date(2025, 3, 4)}
    finally:
        container.close()
