import gc
from collections.abc import Iterator

import pytest

from services.gc_tuning import MIDDLE, OLD, YOUNG, tune_for_service


@pytest.fixture
def restored_thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restored_thresholds")
def test_a_service_sets_the_thresholds_that_bench_figure_f_was_measured_with() -> None:
    tune_for_service()
    assert gc.get_threshold() == (YOUNG, MIDDLE, OLD) == (50_000, 20, 100)
