"""Business dates and reasons: the checks every command shares."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

import pytest

from domain import calendar
from domain.calendar import check_occurred_on, check_reason, today
from domain.errors import InvalidCommand


class _FrozenClock:
    """Stands in for `datetime` inside domain.calendar: only `now` is used there."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self, tz: tzinfo | None = None) -> datetime:
        return self._now.astimezone(tz)


def _freeze(monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
    monkeypatch.setattr(calendar, "datetime", _FrozenClock(now))


def test_today_is_the_utc_date(monkeypatch: pytest.MonkeyPatch) -> None:
    # 2024-06-01 23:30 at UTC-5 is 2024-06-02 04:30 UTC.
    _freeze(monkeypatch, datetime(2024, 6, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5))))
    assert today() == date(2024, 6, 2)


@pytest.mark.parametrize(
    ("now", "latest_allowed"),
    [
        # 10:00 UTC + 14h = 2024-06-02 00:00: the next day has begun in UTC+14.
        (datetime(2024, 6, 1, 10, 0, tzinfo=UTC), date(2024, 6, 2)),
        # 09:59:59 UTC + 14h = 2024-06-01 23:59:59: nowhere is it the next day yet.
        (datetime(2024, 6, 1, 9, 59, 59, tzinfo=UTC), date(2024, 6, 1)),
    ],
)
def test_future_means_not_yet_begun_anywhere(
    monkeypatch: pytest.MonkeyPatch, now: datetime, latest_allowed: date
) -> None:
    _freeze(monkeypatch, now)
    check_occurred_on(latest_allowed)
    with pytest.raises(InvalidCommand) as refused:
        check_occurred_on(latest_allowed + timedelta(days=1))
    assert refused.value.field == "occurred_on"


def test_the_start_day_itself_is_allowed() -> None:
    check_occurred_on(date(2024, 3, 1), not_before=date(2024, 3, 1))


def test_a_day_before_the_start_is_refused() -> None:
    with pytest.raises(InvalidCommand, match="2024-02-29 is before 2024-03-01") as refused:
        check_occurred_on(date(2024, 2, 29), not_before=date(2024, 3, 1))
    assert refused.value.field == "occurred_on"


def test_reason_is_returned_stripped() -> None:
    assert check_reason("  scope cut \n") == "scope cut"


@pytest.mark.parametrize("blank", ["", " ", "\t\n  "])
def test_blank_reason_is_refused(blank: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        check_reason(blank)
    assert refused.value.field == "reason"


def test_blank_text_names_the_given_field() -> None:
    with pytest.raises(InvalidCommand) as refused:
        check_reason("  ", "title")
    assert refused.value.field == "title"


def test_invalid_command_message_names_the_field() -> None:
    error = InvalidCommand("due", "is before the goal was set")
    assert (str(error), error.field, error.message) == (
        "due: is before the goal was set",
        "due",
        "is before the goal was set",
    )
