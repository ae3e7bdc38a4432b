"""The alert process on each real backend: it follows Keel's log, records alerts and
its position together, and never raises an alert twice."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from domain.alert import AlertState, Rule
from domain.errors import Conflict
from services.alerting import AlertProcess, Alerts, backtest
from services.bootstrap import Container, alert_rules
from services.settings import Settings
from tests.scenarios import churn_then_drop

TODAY = date.today() - timedelta(days=1)


def alert_rows(container: Container) -> list[dict[str, object]]:
    container.alert_runner.catch_up()
    return container.alert_view.select("SELECT * FROM alerts ORDER BY raised_on, rule")


def test_a_drop_after_churn_raises_three_alerts_with_the_changes_as_evidence(
    container: Container,
) -> None:
    story = churn_then_drop(container.keel, TODAY)
    container.alert_process.catch_up()
    assert container.alerts.tracked("Keel") == container.keel.head()
    rows = alert_rows(container)
    assert sorted(str(r["rule"]) for r in rows) == [
        "churn_then_drop",
        "morale_drop",
        "target_churn",
    ]
    for row in rows:
        evidence = container.alerts.alert(UUID(str(row["alert_id"]))).evidence
        changes = [e["position"] for e in evidence if e["event"] == "TargetChanged"]
        assert changes == story.change_positions, row["rule"]
    # Baseline: mean 4, sd 0.894 (moods 3,4,5,4,3,5). The first low day (mean 2.333)
    # gives z = -1.667 / (0.894 / sqrt 6) = -4.56: EWMA -0.91 (limit -1.0), CUSUM 4.06
    # (h 5), no signal yet. The second gives EWMA -1.64: the drop is raised then.
    assert story.drop_day is not None
    second_low_day = story.drop_day + timedelta(days=1)
    drop = next(r for r in rows if r["rule"] == "morale_drop")
    assert drop["raised_on"] == second_low_day.isoformat()


def test_a_restarted_process_carries_on_without_raising_anything_twice(
    settings: Settings, container: Container
) -> None:
    churn_then_drop(container.keel, TODAY)
    # Half the log, then a "crash": a new process on the same stores.
    container.alert_process.batch_size = 100
    container.alert_process.process_page()
    container.alert_process.process_page()
    fresh = AlertProcess(container.keel, container.alerts, lambda: alert_rules(settings))
    fresh.catch_up()
    assert container.alerts.tracked("Keel") == container.keel.head()
    assert len(alert_rows(container)) == 3


class RebuiltAlerts(Alerts):
    """An empty Alerts store of its own (its own file, or its own tables)."""

    name = "RebuiltAlerts"


def test_evaluating_the_log_again_into_an_empty_store_raises_the_same_alerts(
    settings: Settings, container: Container
) -> None:
    churn_then_drop(container.keel, TODAY)
    container.alert_process.catch_up()
    first = {r["alert_id"] for r in alert_rows(container)}
    alerts = RebuiltAlerts(env=settings.eventsourcing_env(RebuiltAlerts.name))
    try:
        assert alerts.head() == 0
        AlertProcess(container.keel, alerts, lambda: alert_rules(settings)).catch_up()
        again = {
            str(n.originator_id)
            for n in alerts.recorder.select_notifications(start=1, limit=100)
            if n.originator_version == 1
        }
        assert again == first
        # Even a process that lost its position cannot raise them a second time: the
        # store refuses a second AlertRaised for an id, and the page is not recorded.
        head = alerts.head()
        amnesiac = AlertProcess(container.keel, alerts, lambda: alert_rules(settings))
        amnesiac.rules, amnesiac.position = alert_rules(settings), 0
        with pytest.raises(IntegrityError):
            amnesiac.process_page()
        assert alerts.head() == head
    finally:
        alerts.close()


def test_a_manager_resolution_stands_when_the_signal_recovers(container: Container) -> None:
    story = churn_then_drop(container.keel, TODAY)
    container.alert_process.catch_up()
    rows = {r["rule"]: r for r in alert_rows(container)}
    churn_id = UUID(str(rows["target_churn"]["alert_id"]))
    container.alerts.acknowledge(churn_id, by="Mia", note="talking to the board", occurred_on=TODAY)
    container.alerts.resolve(churn_id, by="Mia", occurred_on=TODAY)
    with pytest.raises(Conflict):
        container.alerts.acknowledge(churn_id, by="Mia", note=None, occurred_on=TODAY)
    # 61 days after the last change the churn would clear by itself: nothing to do now.
    container.keel.set_min_group(story.team_id, min_group=5, actor="Mia", occurred_on=TODAY)
    container.alert_process.catch_up()
    assert container.alerts.alert(churn_id).state is AlertState.CLEARED


def test_backtest_records_nothing_and_takes_overrides(container: Container) -> None:
    story = churn_then_drop(container.keel, TODAY)
    head = container.alerts.head()
    since, until = TODAY - timedelta(days=365), TODAY

    def run(forced: dict[str, dict[str, float]] | None) -> int:
        rules = alert_rules(container.settings, forced)
        firings = backtest(
            container.alert_process,
            rules,
            rule=Rule.TARGET_CHURN,
            team_id=story.team_id,
            since=since,
            until=until,
        )
        return len(firings)

    assert run(None) == 1
    assert run({"target_churn": {"goal_changes": 3}}) == 0
    assert container.alerts.head() == head == 0
