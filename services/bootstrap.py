"""The composition root: the one place that builds and wires Keel's parts."""

from __future__ import annotations

from dataclasses import dataclass

from projections.churn import ChurnThresholds
from projections.goal_audit import GoalAudit
from projections.team_directory import TeamDirectory
from projections.work_life import WorkLife
from services import queries
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
    work_life: ViewStore

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

    def close(self) -> None:
        self.runner.stop()
        for view in self.runner.views:
            view.store.close()
        self.keel.close()


def bootstrap(settings: Settings) -> Container:
    keel = Keel(env=settings.eventsourcing_env(Keel.name))
    views = [
        View(projection, open_view_store(settings, projection))
        for projection in (GoalAudit(), TeamDirectory(), WorkLife())
    ]
    runner = Runner(
        keel,
        views,
        batch_size=settings.batch_size,
        poll_interval=settings.poll_interval_seconds,
    )
    keel.on_recorded.append(runner.nudge)
    goal_audit, team_directory, work_life = (view.store for view in views)
    return Container(settings, keel, runner, goal_audit, team_directory, work_life)
