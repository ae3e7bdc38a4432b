"""The composition root: the one place that builds and wires Keel's parts."""

from __future__ import annotations

from dataclasses import dataclass

from projections.alert_rules import AlertRules, Parameters
from projections.alerts import AlertsView
from projections.churn import ChurnThresholds
from projections.goal_audit import GoalAudit
from projections.team_directory import TeamDirectory
from projections.timeline import TeamHistory
from projections.work_life import WorkLife
from services import queries
from services.alerting import AlertProcess, Alerts
from services.follower_process import FollowerProcess
from services.keel import Keel
from services.runner import Runner, View
from services.settings import Settings
from services.views import ViewStore, open_view_store
from services.writer_process import Commands, InProcess


@dataclass
class Container:
    settings: Settings
    keel: Keel
    runner: Runner
    goal_audit: ViewStore
    team_directory: ViewStore
    work_life: ViewStore
    alerts: Alerts
    # Follows Keel's log and records alerts in `alerts`.
    alert_process: AlertProcess
    # Follows the Alerts log into the alerts view.
    alert_runner: Runner
    alert_view: ViewStore
    # The team history index and its snapshots (projections/timeline.py).
    history: ViewStore
    # Where the HTTP routes send the busiest commands: the writer thread of `keel`,
    # or the server's writer process (services/writer_process.py).
    commands: Commands
    # The followers' child process, when the settings put them there and `start` ran.
    follower_process: FollowerProcess | None = None

    @property
    def thresholds(self) -> ChurnThresholds:
        s = self.settings
        return ChurnThresholds(
            goal_changes=s.goal_churn_threshold,
            goal_window_days=s.goal_churn_window_days,
            team_changes=s.team_churn_threshold,
            team_window_days=s.team_churn_window_days,
        )

    def wait_for(self, store: ViewStore, position: int | None) -> None:
        """Read-your-writes for a query on `store` (see queries.wait_for)."""
        if position is not None:
            timeout = self.settings.wait_for_timeout_seconds
            queries.wait_for(store, position, timeout, head=self.keel.head())

    def start(self) -> None:
        """Start following the logs, as the settings ask: in a child process, or in
        threads of this one (see services/follower_process.py)."""
        s = self.settings
        if s.followers == "process":
            if s.run_projections or s.run_alerts:
                self.follower_process = FollowerProcess(
                    s,
                    views=s.run_projections,
                    alerts=s.run_alerts,
                    relays=s.run_relay and s.nats_url is not None,
                )
                self.follower_process.start()
                self.keel.on_recorded.append(self.follower_process.nudge)
                self.alerts.on_recorded.append(self.follower_process.nudge)
            return
        if s.run_projections:
            self.runner.start()
            self.alert_runner.start()
        if s.run_alerts:
            self.alert_process.start()

    def alerts_evaluated(self) -> int:
        """How far the alert process has evaluated Keel's log: its position in memory,
        0 until it has read its state back after a start. In the followers' child,
        the position it recorded, once the child has said it is evaluating (its
        status line comes once a second; the position is recorded at every page)."""
        if self.follower_process is not None:
            live = (self.follower_process.status or {}).get("alerts_live")
            return self.alerts.tracked(Keel.name) if live else 0
        return self.alert_process.position

    def failures(self) -> dict[str, str]:
        """What is failing among the followers, wherever they run, and the writer."""
        followers = self.follower_process
        if followers is not None:
            failing = dict((followers.status or {}).get("failures") or {})
            if followers.down is not None:
                failing["followers"] = followers.down
        else:
            failing = {**self.runner.failures, **self.alert_runner.failures}
            if self.alert_process.failure:
                failing["alerts"] = self.alert_process.failure
        if self.commands.down is not None:
            failing["writer"] = self.commands.down
        return failing

    def close(self) -> None:
        if self.follower_process is not None:
            self.follower_process.stop()
        self.alert_process.stop()
        self.alert_runner.stop()
        self.runner.stop()
        for runner in (self.runner, self.alert_runner):
            for view in runner.views:
                view.store.close()
        self.alerts.close()
        self.keel.close()


def alert_rules(
    settings: Settings, forced: dict[str, dict[str, float]] | None = None
) -> AlertRules:
    """Fresh rules with this installation's parameters (and `forced` overrides)."""
    return AlertRules(Parameters(settings.alert_rules, forced), min_group=settings.min_group)


def bootstrap(settings: Settings) -> Container:
    keel = Keel(env=settings.eventsourcing_env(Keel.name))
    views = [
        View(projection, open_view_store(settings, projection))
        for projection in (GoalAudit(), TeamDirectory(), WorkLife(), TeamHistory())
    ]
    runner = Runner(
        keel,
        views,
        batch_size=settings.batch_size,
        poll_interval=settings.poll_interval_seconds,
    )
    keel.on_recorded.append(runner.nudge)
    goal_audit, team_directory, work_life, history = (view.store for view in views)

    alerts = Alerts(env=settings.eventsourcing_env(Alerts.name))
    alert_view = open_view_store(settings, AlertsView())
    alert_runner = Runner(
        alerts,
        [View(AlertsView(), alert_view)],
        batch_size=settings.batch_size,
        poll_interval=settings.poll_interval_seconds,
    )
    alerts.on_recorded.append(alert_runner.nudge)
    alert_process = AlertProcess(
        keel,
        alerts,
        lambda: alert_rules(settings),
        batch_size=settings.batch_size,
        poll_interval=settings.poll_interval_seconds,
    )
    keel.on_recorded.append(alert_process.nudge)
    return Container(
        settings,
        keel,
        runner,
        goal_audit,
        team_directory,
        work_life,
        alerts,
        alert_process,
        alert_runner,
        alert_view,
        history,
        InProcess(keel),
    )
