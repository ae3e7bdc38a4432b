"""Morale detectors: hand-computed steps, and a seeded Monte Carlo of their run lengths
against the published average run lengths (ARL)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from statistics import fmean, stdev

import pytest

from domain.detectors import (
    Baseline,
    CusumParams,
    CusumPoint,
    CusumState,
    EwmaParams,
    EwmaPoint,
    EwmaState,
    Signalling,
    estimate_baseline,
    ewma,
    ewma_points,
    ewma_step,
    lower_cusum,
    lower_cusum_points,
    lower_cusum_step,
    reset,
    run_length,
    standardise,
)

# --- standardising a day's mean -------------------------------------------------------


@pytest.mark.parametrize(
    ("mean", "respondents", "baseline", "expected"),
    [
        # One respondent: the day's mean is one check-in, sd 1.0.
        (3.0, 1, Baseline(mean=4.0, sd=1.0), -1.0),
        # Four respondents: sd of the mean 1.0 / 2 = 0.5, so -0.5 is -1 sd.
        (3.5, 4, Baseline(mean=4.0, sd=1.0), -1.0),
        # Nine respondents: sd of the mean 0.6 / 3 = 0.2, so -0.2 is -1 sd.
        (3.8, 9, Baseline(mean=4.0, sd=0.6), -1.0),
        # Above the baseline: sd of the mean 0.8 / 4 = 0.2; +0.5 is 2.5 sd.
        (3.5, 16, Baseline(mean=3.0, sd=0.8), 2.5),
    ],
)
def test_standardise_divides_by_the_sd_of_a_mean_of_n(
    mean: float, respondents: int, baseline: Baseline, expected: float
) -> None:
    assert standardise(mean, respondents, baseline) == pytest.approx(expected)


def test_standardise_refuses_a_day_without_respondents() -> None:
    with pytest.raises(ValueError, match="respondent"):
        standardise(3.0, 0, Baseline(mean=3.0, sd=1.0))


@pytest.mark.parametrize("sd", [0.0, -1.0, math.nan, math.inf])
def test_a_baseline_needs_a_positive_finite_sd(sd: float) -> None:
    with pytest.raises(ValueError, match="sd"):
        Baseline(mean=3.0, sd=sd)


@pytest.mark.parametrize(
    ("moods", "sd_floor", "expected"),
    [
        # Deviations -1, 0, 1: sample variance 2 / 2 = 1.
        ([3, 4, 5], 0.5, Baseline(mean=4.0, sd=1.0)),
        # Deviations -1, 1: sample variance 2 / 1 = 2; sd sqrt(2) is under the floor.
        ([2, 4], 2.0, Baseline(mean=3.0, sd=2.0)),
        ([2, 4], 1.0, Baseline(mean=3.0, sd=math.sqrt(2))),
        # A team that always answers 4 still gets the floor's noise.
        ([4, 4, 4, 4], 0.5, Baseline(mean=4.0, sd=0.5)),
        # One mood has no sample sd.
        ([3], 0.5, Baseline(mean=3.0, sd=0.5)),
    ],
)
def test_estimate_baseline_floors_the_sample_sd(
    moods: list[float], sd_floor: float, expected: Baseline
) -> None:
    baseline = estimate_baseline(moods, sd_floor)
    assert baseline.mean == pytest.approx(expected.mean)
    assert baseline.sd == pytest.approx(expected.sd)


def test_estimate_baseline_needs_moods_and_a_positive_floor() -> None:
    with pytest.raises(ValueError, match="at least one mood"):
        estimate_baseline([], 0.5)
    with pytest.raises(ValueError, match="sd_floor"):
        estimate_baseline([3, 4], 0.0)


# --- EWMA -------------------------------------------------------------------------------


def test_ewma_limits_are_asymptotic() -> None:
    # 3 * sqrt(0.2 / 1.8) = 3 * 1/3 = 1, from the first point on.
    assert EwmaParams().limit == pytest.approx(1.0)
    # 2 * sqrt(0.5 / 1.5) = 2 / sqrt(3).
    assert EwmaParams(lam=0.5, l=2.0).limit == pytest.approx(2 / math.sqrt(3))
    first = ewma([0.0])[0]
    assert first.lower == pytest.approx(-1.0)
    assert first.upper == pytest.approx(1.0)


def test_ewma_steps_by_hand() -> None:
    params = EwmaParams()
    state = EwmaState()
    statistics = []
    for z in [-2.0, -3.0, 1.0]:
        state, point = ewma_step(state, z, params)
        statistics.append(point.statistic)
        assert not point.signal
    # 0.2 * -2 = -0.4; 0.2 * -3 + 0.8 * -0.4 = -0.92; 0.2 * 1 + 0.8 * -0.92 = -0.536.
    assert statistics == pytest.approx([-0.4, -0.92, -0.536])
    assert state.statistic == pytest.approx(-0.536)
    assert state.points == 3


def test_ewma_signals_low_below_its_lower_limit() -> None:
    # -0.4, -0.92, then 0.2 * -4 + 0.8 * -0.92 = -1.536 < -1.
    points = ewma([-2.0, -3.0, -4.0])
    assert [p.low for p in points] == [False, False, True]
    assert [p.high for p in points] == [False, False, False]
    assert points[2].statistic == pytest.approx(-1.536)
    assert run_length(points) == 3


def test_ewma_signals_high_above_its_upper_limit() -> None:
    # 0.2 * 6 = 1.2 > 1.
    (point,) = ewma([6.0])
    assert (point.low, point.high, point.signal) == (False, True, True)


def test_ewma_with_other_parameters() -> None:
    # lam 0.5: 0.5 * -2 = -1; 0.5 * -2 + 0.5 * -1 = -1.5 < -2 / sqrt(3) = -1.1547.
    points = ewma([-2.0, -2.0], EwmaParams(lam=0.5, l=2.0))
    assert [p.statistic for p in points] == pytest.approx([-1.0, -1.5])
    assert [p.low for p in points] == [False, True]


@pytest.mark.parametrize(("lam", "l"), [(0.0, 3.0), (1.5, 3.0), (0.2, 0.0)])
def test_ewma_params_are_checked(lam: float, l: float) -> None:  # noqa: E741
    with pytest.raises(ValueError, match="must be"):
        EwmaParams(lam=lam, l=l)


# --- lower CUSUM --------------------------------------------------------------------------


def test_lower_cusum_steps_by_hand() -> None:
    params = CusumParams()
    state = CusumState()
    statistics = []
    signals = []
    for z in [-2.0, -3.0, 1.0, -4.0]:
        state, point = lower_cusum_step(state, z, params)
        statistics.append(point.statistic)
        signals.append(point.low)
    # 0 + 2 - 0.5 = 1.5; 1.5 + 3 - 0.5 = 4; 4 - 1 - 0.5 = 2.5; 2.5 + 4 - 0.5 = 6 > 5.
    assert statistics == pytest.approx([1.5, 4.0, 2.5, 6.0])
    assert signals == [False, False, False, True]
    assert state.statistic == pytest.approx(6.0)
    assert state.points == 4


def test_lower_cusum_never_goes_below_zero() -> None:
    # 0 - 1 - 0.5 < 0, so 0; then 0 + 1 - 0.5 = 0.5.
    assert [p.statistic for p in lower_cusum([1.0, -1.0])] == pytest.approx([0.0, 0.5])


def test_lower_cusum_signals_only_above_h() -> None:
    # 0 + 5.5 - 0.5 = 5.0 exactly: on h, not above it.
    (on_h,) = lower_cusum([-5.5])
    assert on_h.statistic == 5.0
    assert not on_h.signal
    (above_h,) = lower_cusum([-5.75])
    assert above_h.signal


def test_lower_cusum_with_other_parameters() -> None:
    # k 1, h 2: 0 + 2 - 1 = 1; 1 + 2.5 - 1 = 2.5 > 2.
    points = lower_cusum([-2.0, -2.5], CusumParams(k=1.0, h=2.0))
    assert [p.statistic for p in points] == pytest.approx([1.0, 2.5])
    assert [p.low for p in points] == [False, True]
    assert points[0].limit == 2.0


@pytest.mark.parametrize(("k", "h"), [(-0.1, 5.0), (0.5, 0.0)])
def test_cusum_params_are_checked(k: float, h: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        CusumParams(k=k, h=h)


def test_reset_starts_a_fresh_detector_of_the_same_kind() -> None:
    state, point = lower_cusum_step(CusumState(statistic=4.9, points=7), -1.0, CusumParams())
    assert point.signal
    assert reset(state) == CusumState(statistic=0.0, points=0)
    # Without the reset a small further dip signals again: 5.4 + 1 - 0.5 = 5.9 > 5;
    # after it, the same dip gives 0 + 1 - 0.5 = 0.5.
    assert lower_cusum_step(state, -1.0, CusumParams())[1].signal
    assert not lower_cusum_step(reset(state), -1.0, CusumParams())[1].signal
    assert reset(EwmaState(statistic=-1.2, points=3)) == EwmaState()


# --- whole series -----------------------------------------------------------------------


def test_whole_series_match_stepping() -> None:
    series = [0.3, -1.7, 2.2, -0.4, -2.9, -1.1]
    ewma_state, cusum_state = EwmaState(), CusumState()
    stepped_ewma: list[EwmaPoint] = []
    stepped_cusum: list[CusumPoint] = []
    for z in series:
        ewma_state, ewma_point = ewma_step(ewma_state, z, EwmaParams())
        cusum_state, cusum_point = lower_cusum_step(cusum_state, z, CusumParams())
        stepped_ewma.append(ewma_point)
        stepped_cusum.append(cusum_point)
    assert ewma(series) == stepped_ewma
    assert lower_cusum(series) == stepped_cusum
    assert ewma([]) == []


def test_run_length_counts_points_up_to_the_first_signal() -> None:
    # CUSUM: 1.5, 4, 2.5, 6 (signal), then 6 + 0 - 0.5 = 5.5 (signal again).
    assert run_length(lower_cusum([-2.0, -3.0, 1.0, -4.0, 0.0])) == 4
    assert run_length(lower_cusum([0.0, 0.0])) is None
    assert run_length([]) is None


# --- Monte Carlo against the published ARLs ---------------------------------------------
#
# Each run draws standard normal points shifted by `shift` from the first point on and
# counts points until the detector first signals. For the in-control cases the run
# length is nearly geometric, so its sd is close to its mean and the standard error of
# the mean ARL over n runs is about ARL / sqrt(n): 2,000 runs give about 2.2%, which
# keeps the +/- 10% band about 4.5 standard errors away. The shifted runs vary less.

_MAX_POINTS = 100_000  # far beyond any plausible run: an unbounded loop would be a bug


def _draws(rng: random.Random, shift: float) -> Iterator[float]:
    gauss = rng.gauss
    while True:
        yield gauss(shift, 1.0)


def _two_sided_ewma(draws: Iterable[float]) -> Iterable[Signalling]:
    return ewma_points(draws, EwmaParams(lam=0.2, l=3.0))


def _lower_cusum(draws: Iterable[float]) -> Iterable[Signalling]:
    return lower_cusum_points(draws, CusumParams(k=0.5, h=5.0))


@pytest.mark.parametrize(
    ("detector", "shift", "published", "runs", "seed"),
    [
        # Lucas & Saccucci (1990), lam 0.2, L 3, two-sided: ARL0 560, 1 sd shift 10.8.
        pytest.param(_two_sided_ewma, 0.0, 560.0, 2000, 101, id="ewma-in-control"),
        pytest.param(_two_sided_ewma, -1.0, 10.8, 2000, 102, id="ewma-1sd-drop"),
        # One-sided CUSUM k 0.5, h 5: ARL0 930, 1 sd shift 10.4.
        pytest.param(_lower_cusum, 0.0, 930.0, 2000, 103, id="cusum-in-control"),
        pytest.param(_lower_cusum, -1.0, 10.4, 2000, 104, id="cusum-1sd-drop"),
    ],
)
def test_monte_carlo_arl_matches_the_published_figure(
    detector: Callable[[Iterable[float]], Iterable[Signalling]],
    shift: float,
    published: float,
    runs: int,
    seed: int,
) -> None:
    rng = random.Random(seed)
    lengths = []
    for _ in range(runs):
        length = run_length(detector(islice(_draws(rng, shift), _MAX_POINTS)))
        assert length is not None, f"no signal in {_MAX_POINTS} points"
        lengths.append(length)
    arl = fmean(lengths)
    standard_error = stdev(lengths) / math.sqrt(runs)
    assert standard_error < 0.03 * published, f"ARL {arl:.2f}, SE {standard_error:.2f}"
    assert abs(arl - published) <= 0.10 * published, f"ARL {arl:.2f}, SE {standard_error:.2f}"
