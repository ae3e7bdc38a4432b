"""The Keel application service on each real backend: commands, versions, positions,
refusals, optimistic concurrency and durability. The runner is driven by hand."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from domain.errors import Conflict, InvalidCommand
from domain.goal import ConcernKind, Goal, GoalState
from domain.team import DepartureReason
from services.bootstrap import Container, bootstrap
from services.errors import NotFound, VersionMismatch
from services.keel import Keel, Recorded
from services.settings import Settings

TODAY = date.today() - timedelta(days=1)  # safely "not in the future" in every time zone
START = TODAY - timedelta(days=30)
DUE = TODAY + timedelta(days=90)


def form_team(keel: Keel, name: str = "Platform") -> Recorded:
    return keel.form_team(name=name, manager="Maya", actor="maya", occurred_on=START)


def add_member(keel: Keel, team_id: UUID, name: str = "Bo") -> Recorded:
    return keel.add_member(team_id, name=name, role="dev", actor="maya", occurred_on=START)


def set_goal(keel: Keel, team_id: UUID, title: str = "Latency") -> Recorded:
    return keel.set_goal(
        team_id,
        title=title,
        metric="p99 ms",
        target=200.0,
        unit="ms",
        due=DUE,
        why="users wait",
        actor="maya",
        occurred_on=START,
    )


def change_target(
    keel: Keel, goal_id: UUID, target: float, expected: int | None = None
) -> Recorded:
    return keel.change_goal(
        goal_id,
        expected,
        lambda g: g.change_target(target=target, reason="rethink", actor="maya", occurred_on=TODAY),
    )


def test_form_team_add_members_and_record_a_departure(container: Container) -> None:
    keel = container.keel
    assert keel.head() == 0

    formed = form_team(keel)
    assert (formed.version, formed.position) == (1, 1)

    bo = add_member(keel, formed.id, "Bo")
    assert bo.position == keel.head()
    cy = keel.add_member(formed.id, name="Cy", role=None, actor="maya", occurred_on=TODAY)
    assert cy.position == keel.head()
    assert bo.id != formed.id, "adding a member answers the member's id"
    assert (bo.version, cy.version) == (2, 3)
    assert formed.position < bo.position < cy.position

    left = keel.record_departure(
        formed.id,
        bo.id,
        reason=DepartureReason.RESIGNED,
        note="new job",
        actor="maya",
        occurred_on=TODAY,
    )
    assert (left.id, left.version) == (bo.id, 4)
    assert cy.position < left.position == keel.head()

    team = keel.team(formed.id)
    assert (team.name, team.manager, team.formed_on, team.version) == ("Platform", "Maya", START, 4)
    assert set(team.members) == {bo.id, cy.id}
    assert team.members[bo.id].left_on == TODAY
    assert team.members[bo.id].left_reason is DepartureReason.RESIGNED
    assert team.members[cy.id].is_current
    assert team.members[cy.id].role is None


def test_every_goal_command_bumps_the_version_and_the_position(container: Container) -> None:
    keel = container.keel
    team = form_team(keel)
    goal = set_goal(keel, team.id)
    assert goal.version == 1
    assert goal.id != team.id

    results = [
        change_target(keel, goal.id, 150.0),
        keel.change_goal(
            goal.id,
            None,
            lambda g: g.change_due_date(
                due=DUE + timedelta(days=30), reason="holidays", actor="ann", occurred_on=TODAY
            ),
        ),
        keel.change_goal(
            goal.id,
            None,
            lambda g: g.redefine(
                title="Checkout latency",
                metric=None,
                reason="scope",
                actor="ann",
                occurred_on=TODAY,
            ),
        ),
        keel.change_goal(
            goal.id,
            None,
            lambda g: g.record_progress(value=180.0, note="cache", actor="bo", occurred_on=TODAY),
        ),
    ]
    concern = keel.change_goal(
        goal.id,
        None,
        lambda g: g.raise_concern(
            kind=ConcernKind.UNCLEAR, text="which endpoint?", actor="bo", occurred_on=TODAY
        ),
    )
    results.append(concern)
    answer = keel.answer_concern(
        goal.id, concern.id, text="checkout", actor="maya", occurred_on=TODAY
    )
    results.append(answer)
    results.append(
        keel.change_goal(
            goal.id, None, lambda g: g.achieve(reason="done", actor="maya", occurred_on=TODAY)
        )
    )

    assert [r.version for r in results] == list(range(2, 9))
    positions = [goal.position] + [r.position for r in results]
    assert positions == sorted(set(positions)), "positions strictly increase"
    assert positions[-1] == keel.head()
    assert concern.id not in (goal.id, team.id), "raising a concern answers the concern's id"
    assert answer.id == concern.id
    assert all(r.id == goal.id for r in results if r not in (concern, answer))

    loaded = keel.goal(goal.id)
    assert loaded.version == 8
    assert loaded.target == 150.0
    assert loaded.due == DUE + timedelta(days=30)
    assert (loaded.title, loaded.metric) == ("Checkout latency", "p99 ms")
    assert (loaded.progress, loaded.progress_on) == (180.0, TODAY)
    assert loaded.state is GoalState.ACHIEVED
    assert loaded.team_id == team.id
    stored = loaded.concerns[concern.id]
    assert (stored.kind, stored.text, stored.raised_by) == (
        ConcernKind.UNCLEAR,
        "which endpoint?",
        "bo",
    )
    assert (stored.answer, stored.answered_by) == ("checkout", "maya")


def test_abandoning_a_goal(container: Container) -> None:
    keel = container.keel
    goal = set_goal(keel, form_team(keel).id)
    ended = keel.change_goal(
        goal.id, 1, lambda g: g.abandon(reason=None, actor="maya", occurred_on=TODAY)
    )
    assert ended.version == 2
    assert keel.goal(goal.id).state is GoalState.ABANDONED


@pytest.mark.parametrize("ending", ["achieve", "abandon"])
def test_an_ended_goal_refuses_changes_and_records_nothing(
    container: Container, ending: str
) -> None:
    keel = container.keel
    goal = set_goal(keel, form_team(keel).id)
    keel.change_goal(
        goal.id, None, lambda g: getattr(g, ending)(reason=None, actor="a", occurred_on=TODAY)
    )
    head = keel.head()
    with pytest.raises(Conflict, match="can no longer change"):
        change_target(keel, goal.id, 1.0)
    with pytest.raises(Conflict):
        keel.change_goal(
            goal.id, None, lambda g: g.achieve(reason=None, actor="a", occurred_on=TODAY)
        )
    assert keel.head() == head
    assert keel.goal(goal.id).version == 2


def test_domain_refusals_record_nothing(container: Container) -> None:
    keel = container.keel
    team = form_team(keel)
    member = add_member(keel, team.id)
    goal = set_goal(keel, team.id)
    keel.record_departure(
        team.id, member.id, reason=DepartureReason.MOVED_ON, note=None, actor="a", occurred_on=TODAY
    )
    head = keel.head()

    with pytest.raises(Conflict, match="already left"):
        keel.record_departure(
            team.id,
            member.id,
            reason=DepartureReason.DISMISSED,
            note=None,
            actor="a",
            occurred_on=TODAY,
        )
    with pytest.raises(InvalidCommand) as same_target:
        change_target(keel, goal.id, 200.0)
    assert same_target.value.field == "target"
    with pytest.raises(InvalidCommand) as empty_reason:
        keel.change_goal(
            goal.id,
            None,
            lambda g: g.change_target(target=1.0, reason="  ", actor="a", occurred_on=TODAY),
        )
    assert empty_reason.value.field == "reason"
    with pytest.raises(InvalidCommand) as before_set:
        keel.change_goal(
            goal.id,
            None,
            lambda g: g.change_target(
                target=1.0, reason="r", actor="a", occurred_on=START - timedelta(days=1)
            ),
        )
    assert before_set.value.field == "occurred_on"
    assert keel.head() == head


def test_unknown_ids_are_not_found(container: Container) -> None:
    keel = container.keel
    team = form_team(keel)
    goal = set_goal(keel, team.id)
    nobody = uuid4()

    with pytest.raises(NotFound) as unknown_team:
        keel.team(nobody)
    assert (unknown_team.value.kind, unknown_team.value.id) == ("team", nobody)
    with pytest.raises(NotFound, match="no goal"):
        keel.goal(nobody)
    # An id of the wrong kind of aggregate is not found either.
    with pytest.raises(NotFound, match="no team"):
        keel.team(goal.id)
    with pytest.raises(NotFound, match="no goal"):
        keel.goal(team.id)
    with pytest.raises(NotFound, match="no team"):
        add_member(keel, nobody)
    with pytest.raises(NotFound, match="no team"):
        set_goal(keel, nobody)
    with pytest.raises(NotFound, match="no team"):
        set_goal(keel, goal.id)
    with pytest.raises(NotFound, match="no goal"):
        change_target(keel, nobody, 1.0)
    with pytest.raises(NotFound, match="no member"):
        keel.record_departure(
            team.id,
            nobody,
            reason=DepartureReason.RESIGNED,
            note=None,
            actor="a",
            occurred_on=TODAY,
        )
    with pytest.raises(NotFound, match="no concern"):
        keel.answer_concern(goal.id, nobody, text="t", actor="a", occurred_on=TODAY)
    assert keel.head() == goal.position


def test_a_stale_expected_version_is_refused(container: Container) -> None:
    keel = container.keel
    team = form_team(keel)
    member = add_member(keel, team.id)
    goal = set_goal(keel, team.id)
    change_target(keel, goal.id, 150.0)
    concern = keel.change_goal(
        goal.id,
        None,
        lambda g: g.raise_concern(
            kind=ConcernKind.UNATTAINABLE, text="t", actor="a", occurred_on=TODAY
        ),
    )
    head = keel.head()

    with pytest.raises(VersionMismatch) as stale_goal:
        change_target(keel, goal.id, 100.0, expected=2)
    assert (stale_goal.value.expected, stale_goal.value.actual) == (2, 3)
    with pytest.raises(VersionMismatch):
        keel.answer_concern(
            goal.id, concern.id, text="t", actor="a", occurred_on=TODAY, expected_version=1
        )
    with pytest.raises(VersionMismatch) as stale_team:
        keel.add_member(
            team.id, name="Cy", role=None, actor="a", occurred_on=TODAY, expected_version=1
        )
    assert (stale_team.value.expected, stale_team.value.actual) == (1, 2)
    with pytest.raises(VersionMismatch):
        keel.record_departure(
            team.id,
            member.id,
            reason=DepartureReason.RESIGNED,
            note=None,
            actor="a",
            occurred_on=TODAY,
            expected_version=3,
        )
    assert keel.head() == head

    # The current version is accepted.
    assert change_target(keel, goal.id, 100.0, expected=3).version == 4
    cy = keel.add_member(
        team.id, name="Cy", role=None, actor="a", occurred_on=TODAY, expected_version=2
    )
    assert cy.version == 3
    assert head < cy.position == keel.head()
    assert cy.id in keel.team(team.id).members


@pytest.mark.parametrize("events_in_between", [1, 2])
def test_a_concurrent_lost_update_is_refused(container: Container, events_in_between: int) -> None:
    """Two writers load the same goal; the first saves; the second's save must fail
    instead of silently overwriting (or interleaving with) the first one's change."""
    keel = container.keel
    goal = set_goal(keel, form_team(keel).id)
    targets = iter([150.0, 120.0])

    def other_writer_first(stale: Goal) -> None:
        # `stale` was loaded at version 1; another copy is loaded and saved now.
        for _ in range(events_in_between):
            change_target(keel, goal.id, next(targets))
        stale.change_target(target=999.0, reason="mine", actor="late", occurred_on=TODAY)

    head = keel.head()
    with pytest.raises(VersionMismatch) as lost:
        keel.change_goal(goal.id, None, other_writer_first)

    current = keel.goal(goal.id)
    assert current.version == 1 + events_in_between
    assert current.target == (150.0 if events_in_between == 1 else 120.0)
    assert keel.head() == head + events_in_between, "the second save recorded nothing"
    assert lost.value.expected == 1
    # If the refusal names a current version, it must be the true one (it is sent
    # back to the client as the ETag to retry with).
    assert lost.value.actual in (None, current.version)


def test_two_loaded_copies_cannot_both_be_saved(container: Container) -> None:
    keel = container.keel
    goal = set_goal(keel, form_team(keel).id)
    first, second = keel.goal(goal.id), keel.goal(goal.id)
    first.change_target(target=150.0, reason="a", actor="a", occurred_on=TODAY)
    second.change_target(target=120.0, reason="b", actor="b", occurred_on=TODAY)
    keel.save(first)
    with pytest.raises(IntegrityError):
        keel.save(second)
    assert keel.goal(goal.id).target == 150.0


def test_views_follow_the_log_when_caught_up(container: Container) -> None:
    keel = container.keel
    team = form_team(keel)
    add_member(keel, team.id)
    set_goal(keel, team.id)
    positions = container.runner.positions()
    assert {"goal_audit", "team_directory"} <= set(positions)
    assert set(positions.values()) == {0}
    container.runner.catch_up()
    assert set(container.runner.positions().values()) == {keel.head()}
    assert [r["title"] for r in container.goal_audit.select("SELECT title FROM goals")] == [
        "Latency"
    ]


def test_events_survive_closing_and_bootstrapping_again(settings: Settings) -> None:
    first = bootstrap(settings)
    try:
        team = form_team(first.keel)
        member = add_member(first.keel, team.id)
        goal = set_goal(first.keel, team.id)
        change_target(first.keel, goal.id, 150.0)
        first.runner.catch_up()
        head = first.keel.head()
        views = {v.name: v.store.dump() for v in first.runner.views}
    finally:
        first.close()

    again = bootstrap(settings)
    try:
        keel = again.keel
        assert keel.head() == head
        assert set(keel.team(team.id).members) == {member.id}
        reloaded = keel.goal(goal.id)
        assert (reloaded.version, reloaded.target, reloaded.due) == (2, 150.0, DUE)
        assert set(again.runner.positions().values()) == {head}
        assert {v.name: v.store.dump() for v in again.runner.views} == views
        assert views["goal_audit"]["goal_changes"], "the views were not empty"
        # New writes carry on from the recorded versions and positions.
        assert change_target(keel, goal.id, 120.0, expected=2) == Recorded(goal.id, 3, head + 1)
    finally:
        again.close()


def test_read_team_hands_out_the_cached_team_and_commands_get_copies(
    container: Container,
) -> None:
    keel = container.keel
    team = form_team(keel).id
    assert keel.read_team(team) is keel.read_team(team)  # no copy for reading
    assert keel.team(team) is not keel.read_team(team)  # commands change copies
    add_member(keel, team)
    assert len(keel.read_team(team).members) == 1  # and it follows the log
    with pytest.raises(NotFound):
        keel.read_team(uuid4())
