"""The composition root: the one place that builds and wires Keel's parts."""

from __future__ import annotations

from dataclasses import dataclass

from projections.churn import ChurnThresholds
from projections.goal_audit import GoalAudit
from projections.team_directory import TeamDirectory
from services.keel import Keel
from services.runner import Runner, View
from services.settings import Settings
from services.views import ViewStore, open_view_store


@dataclass
class Container:
    settings: Settings
    keel: Keel
    runner: Runner
    goal_audit: ViewStore
    team_directory: ViewStore

    @property
    def thresholds(self) -> ChurnThresholds:
        s = self.settings
        return ChurnThresholds(
            goal_changes=s.goal_churn_threshold,
            goal_window_days=s.goal_churn_window_days,
            team_changes=s.team_churn_threshold,
            team_window_days=s.team_churn_window_days,
        )

    def close(self) -> None:
        self.runner.stop()
        for view in self.runner.views:
            view.store.close()
        self.keel.close()


def bootstrap(settings: Settings) -> Container:
    keel = Keel(env=settings.eventsourcing_env(Keel.name))
    goal_audit, team_directory = GoalAudit(), TeamDirectory()
    goal_audit_store = open_view_store(settings, goal_audit)
    team_directory_store = open_view_store(settings, team_directory)
    runner = Runner(
        keel,
        [View(goal_audit, goal_audit_store), View(team_directory, team_directory_store)],
        batch_size=settings.batch_size,
        poll_interval=settings.poll_interval_seconds,
    )
    keel.on_recorded.append(runner.nudge)
    return Container(settings, keel, runner, goal_audit_store, team_directory_store)
