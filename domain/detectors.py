"""Morale detectors: an EWMA chart and a one-sided lower CUSUM over standardised points.

Both work one point at a time (`ewma_step`, `lower_cusum_step`), so the alert rules can
fold them along the log, and over a whole series (`ewma`, `lower_cusum`). A point is a
day's team mood standardised against the team's normal period (`standardise`): in
control it has mean 0 and standard deviation 1, so the parameters are in units of the
day mean's standard deviation.

What the caller feeds in:
- Sparse days are skipped, not zero-filled. A day nobody checked in on is no evidence
  either way, so it is not a point; the detectors count points, not calendar days, and
  every run length below is in points.
- A day with fewer respondents than the team's minimum group is not a point at all
  (its mean must not be shown, and a detector's output is a way of showing it).
  Qualifying days may have different numbers of respondents: `standardise` divides by
  sd / sqrt(n), so a day with more respondents weighs in with its smaller noise.
- `morale_drop` uses only the low side: the EWMA's `low` signal and the lower CUSUM.
  The EWMA's `high` signal exists because the published two-sided figures are what
  validates the chart; a rise in morale raises no alert. Watching one side about
  doubles the EWMA's in-control ARL (about 1,130 points by Monte Carlo), and raising
  on either detector lowers it again (EWMA low or CUSUM: about 760 points in control,
  a 1 sd drop found in about 9.9; 10,000 runs each).

EWMA limits are asymptotic: +/- l * sqrt(lam / (2 - lam)), the same from the first
point. Lucas & Saccucci (1990) tabulate ARLs for asymptotic limits, and a seeded Monte
Carlo of this module reproduces them (lam = 0.2, l = 3, two-sided: about 559 points in
control, 10.9 after a 1 sd drop, against 560 and 10.8 published). Exact time-varying
limits, l * sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 i))), are narrower for the first
points, which catches a drop present from the start sooner: the same Monte Carlo gives
about 553 in control but 9.9 after a 1 sd drop, 8% under the published figure, so they
would not be the chart the published figures describe.

Signals are strict inequalities: the EWMA signals below its lower limit or above its
upper one, the CUSUM when S > h. The statistics are continuous, so equality has
probability zero and the choice moves no run length; it matters only for hand-made
inputs that land exactly on a limit, which do not signal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from statistics import fmean, stdev
from typing import Protocol, TypeVar


@dataclass(frozen=True, slots=True)
class Baseline:
    """An individual's mood in the team's normal period: one check-in's mean and sd."""

    mean: float
    sd: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.sd) and self.sd > 0):
            raise ValueError(f"a baseline's sd must be a positive number, not {self.sd}")


def estimate_baseline(moods: Sequence[float], sd_floor: float) -> Baseline:
    """The sample mean and sample sd of `moods`, the sd no lower than `sd_floor`.

    One mood has no sample sd; it gets the floor, as does a team that always answers 4.
    """
    if not moods:
        raise ValueError("a baseline needs at least one mood")
    if not sd_floor > 0:
        raise ValueError(f"sd_floor must be greater than 0, not {sd_floor}")
    spread = stdev(moods) if len(moods) > 1 else 0.0
    return Baseline(mean=fmean(moods), sd=max(spread, sd_floor))


def standardise(mean: float, respondents: int, baseline: Baseline) -> float:
    """A day's mean mood over `respondents` people, in sds of such a day's mean."""
    if respondents < 1:
        raise ValueError(f"a day's mean needs at least one respondent, not {respondents}")
    return (mean - baseline.mean) / (baseline.sd / math.sqrt(respondents))


@dataclass(frozen=True, slots=True)
class EwmaParams:
    lam: float = 0.2
    l: float = 3.0  # noqa: E741 -- the literature's L; the rule's parameter is ewma_l

    def __post_init__(self) -> None:
        if not 0 < self.lam <= 1:
            raise ValueError(f"lam must be in (0, 1], not {self.lam}")
        if not self.l > 0:
            raise ValueError(f"l must be greater than 0, not {self.l}")

    @property
    def limit(self) -> float:
        """The distance of either control limit from 0."""
        return self.l * math.sqrt(self.lam / (2 - self.lam))


@dataclass(frozen=True, slots=True)
class EwmaState:
    """The EWMA statistic (0 at the start, the in-control mean) and the points seen
    since the start or the last reset."""

    statistic: float = 0.0
    points: int = 0


@dataclass(frozen=True, slots=True)
class EwmaPoint:
    """The EWMA after one point, with its control limits; the signals follow from them."""

    statistic: float
    lower: float
    upper: float

    @property
    def low(self) -> bool:
        return self.statistic < self.lower

    @property
    def high(self) -> bool:
        return self.statistic > self.upper

    @property
    def signal(self) -> bool:
        return self.low or self.high


def ewma_step(state: EwmaState, z: float, params: EwmaParams) -> tuple[EwmaState, EwmaPoint]:
    statistic = params.lam * z + (1 - params.lam) * state.statistic
    limit = params.limit
    return EwmaState(statistic, state.points + 1), EwmaPoint(statistic, -limit, limit)


@dataclass(frozen=True, slots=True)
class CusumParams:
    k: float = 0.5
    h: float = 5.0

    def __post_init__(self) -> None:
        if not self.k >= 0:
            raise ValueError(f"k must be 0 or more, not {self.k}")
        if not self.h > 0:
            raise ValueError(f"h must be greater than 0, not {self.h}")


@dataclass(frozen=True, slots=True)
class CusumState:
    """The lower CUSUM S (0 at the start) and the points seen since the last reset."""

    statistic: float = 0.0
    points: int = 0


@dataclass(frozen=True, slots=True)
class CusumPoint:
    """The lower CUSUM after one point and its decision limit h."""

    statistic: float
    limit: float

    @property
    def low(self) -> bool:
        return self.statistic > self.limit

    @property
    def signal(self) -> bool:
        return self.low


def lower_cusum_step(
    state: CusumState, z: float, params: CusumParams
) -> tuple[CusumState, CusumPoint]:
    """S_t = max(0, S_{t-1} - z_t - k); it signals when S_t > h."""
    statistic = max(0.0, state.statistic - z - params.k)
    return CusumState(statistic, state.points + 1), CusumPoint(statistic, params.h)


_State = TypeVar("_State", EwmaState, CusumState)


def reset(state: _State) -> _State:
    """A fresh detector of the same kind, as the caller may want after a signal.

    Without a reset a CUSUM that has crossed h keeps signalling until the accumulated
    drop has been paid back, so one episode would read as many.
    """
    return type(state)()


def ewma_points(series: Iterable[float], params: EwmaParams) -> Iterator[EwmaPoint]:
    """The EWMA over `series`, lazily, from a fresh state and without resets."""
    state = EwmaState()
    for z in series:
        state, point = ewma_step(state, z, params)
        yield point


def lower_cusum_points(series: Iterable[float], params: CusumParams) -> Iterator[CusumPoint]:
    """The lower CUSUM over `series`, lazily, from a fresh state and without resets."""
    state = CusumState()
    for z in series:
        state, point = lower_cusum_step(state, z, params)
        yield point


def ewma(series: Iterable[float], params: EwmaParams | None = None) -> list[EwmaPoint]:
    return list(ewma_points(series, params or EwmaParams()))


def lower_cusum(series: Iterable[float], params: CusumParams | None = None) -> list[CusumPoint]:
    return list(lower_cusum_points(series, params or CusumParams()))


class Signalling(Protocol):
    @property
    def signal(self) -> bool: ...


def run_length(points: Iterable[Signalling]) -> int | None:
    """How many points up to and including the first signal; None if none signals."""
    for count, point in enumerate(points, start=1):
        if point.signal:
            return count
    return None
