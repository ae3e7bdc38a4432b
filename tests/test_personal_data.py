"""Crypto-shredding on both backends: personal text is stored sealed, and erasing a
person deletes their key without touching a single stored event."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from domain.errors import Conflict
from domain.journal import CheckIn
from domain.team import ERASED
from services.bootstrap import Container, bootstrap
from services.errors import NotFound

DAY = date(2025, 3, 3)


def stored_log(container: Container) -> list[tuple[int, bytes]]:
    notifications = container.keel.recorder.select_notifications(start=1, limit=10_000)
    return [(n.id, bytes(n.state)) for n in notifications]


def story(container: Container) -> tuple[UUID, UUID]:
    keel = container.keel
    team = keel.form_team(name="CS", manager="kay", actor="kay", occurred_on=date(2025, 1, 6))
    ana = keel.add_member(
        team.id, name="Ana Lima", role=None, actor="kay", occurred_on=date(2025, 1, 6)
    )
    bo = keel.add_member(
        team.id, name="Bo Chen", role=None, actor="kay", occurred_on=date(2025, 1, 6)
    )
    keel.check_in(
        team.id,
        ana.id,
        CheckIn(
            DAY,
            2,
            progress=["fixed the export"],
            wins=["calmed a customer"],
            blockers=["no VPN"],
            private_note="burnt out",
        ),
        actor=str(ana.id),
    )
    keel.define_success(
        ana.id, text="Being trusted with hard cases", actor=str(ana.id), occurred_on=DAY
    )
    keel.recognise(
        from_member_id=bo.id,
        to_member_id=ana.id,
        win_id=None,
        message="Ana saved the account",
        actor=str(bo.id),
        occurred_on=DAY,
    )
    return ana.id, bo.id


SECRETS = [
    b"Ana Lima",
    b"fixed the export",
    b"calmed a customer",
    b"no VPN",
    b"burnt out",
    b"Being trusted",
    b"Ana saved the account",
]


def test_personal_text_is_stored_sealed(container: Container) -> None:
    story(container)
    raw = b"".join(state for _, state in stored_log(container))
    for secret in SECRETS:
        assert secret not in raw
    assert b"CS" in raw  # a team's name is not personal: it is stored as written


def test_erasing_deletes_the_key_and_changes_no_event(container: Container) -> None:
    ana, bo = story(container)
    container.runner.catch_up()
    before = stored_log(container)
    views_before = {v.name: v.store.dump() for v in container.runner.views}

    recorded = container.keel.erase_member(ana, actor="ana", occurred_on=DAY)
    container.runner.catch_up()

    assert stored_log(container)[: len(before)] == before  # the log was not rewritten
    journal = container.keel.journal(ana)
    entry = journal.entries[DAY]
    assert (entry.progress, entry.private_note) == ([ERASED], ERASED)
    assert [w["text"] for w in entry.wins] == [ERASED]
    assert journal.success == ERASED
    team = container.keel.team(journal.team_id)
    assert (team.members[ana].name, team.members[ana].erased) == (ERASED, True)
    assert team.members[bo].name == "Bo Chen"  # nobody else is touched
    assert recorded.id == ana

    # Views hold no personal text at all, so erasure changes none of their rows.
    after = {v.name: v.store.dump() for v in container.runner.views}
    assert after["work_life"] == views_before["work_life"]
    assert after["goal_audit"] == views_before["goal_audit"]
    assert after["team_directory"] == views_before["team_directory"]
    # A rebuild from the log, with the key gone, gives the same views.
    container.runner.rebuild()
    assert {v.name: v.store.dump() for v in container.runner.views} == after


def test_erasure_survives_a_restart_and_new_words_are_readable(container: Container) -> None:
    ana, _ = story(container)
    container.keel.erase_member(ana, actor="ana", occurred_on=DAY)
    later = date(2025, 3, 4)
    journal = container.keel.journal(ana)
    container.keel.check_in(
        journal.team_id, ana, CheckIn(later, 4, progress=["back at it"]), actor=str(ana)
    )
    reopened = bootstrap(container.settings)
    try:
        entries = reopened.keel.journal(ana).entries
        assert entries[DAY].progress == [ERASED]
        assert entries[later].progress == ["back at it"]
    finally:
        reopened.close()


def test_erasing_twice_or_an_unknown_member(container: Container) -> None:
    ana, _ = story(container)
    container.keel.erase_member(ana, actor="ana", occurred_on=DAY)
    with pytest.raises(Conflict):
        container.keel.erase_member(ana, actor="ana", occurred_on=DAY)
    with pytest.raises(NotFound):
        container.keel.erase_member(UUID(int=7), actor="ana", occurred_on=DAY)


def test_a_copy_cached_by_another_process_is_wiped_too(container: Container) -> None:
    ana, _ = story(container)
    elsewhere = bootstrap(container.settings)  # another API worker, say
    try:
        assert elsewhere.keel.journal(ana).entries[DAY].progress == ["fixed the export"]
        container.keel.erase_member(ana, actor="ana", occurred_on=DAY)
        # Its cached journal fast-forwards through the erasure event, which wipes it.
        journal = elsewhere.keel.journal(ana)
        assert journal.entries[DAY].progress == [ERASED]
        assert journal.entries[DAY].private_note == ERASED
        assert elsewhere.keel.team(journal.team_id).members[ana].name == ERASED
    finally:
        elsewhere.close()


def test_views_never_hold_personal_text(container: Container) -> None:
    story(container)
    container.runner.catch_up()
    every_value = repr([v.store.dump() for v in container.runner.views]).encode()
    for secret in SECRETS:
        assert secret not in every_value


def test_words_sealed_after_an_erasure_elsewhere_are_readable_here(
    container: Container,
) -> None:
    """Another process (the writer process, another API worker) erased the member and
    sealed their next words with a new key, while this one still held the old key."""
    ana, _ = story(container)
    elsewhere = bootstrap(container.settings)
    try:
        team = container.keel.journal(ana).team_id  # this process now holds Ana's key
        elsewhere.keel.erase_member(ana, actor="ana", occurred_on=DAY)
        later = date(2025, 3, 4)
        elsewhere.keel.check_in(team, ana, CheckIn(later, 4, progress=["back"]), actor=str(ana))
        reread = bootstrap(container.settings)  # nothing cached: the same events
        try:
            for keel in (container.keel, reread.keel):
                entries = keel.journal(ana).entries
                assert entries[later].progress == ["back"]
                assert entries[DAY].progress == [ERASED]
        finally:
            reread.close()
    finally:
        elsewhere.close()
