"""Garbage-collector settings for Keel's long-running processes (`keel serve`, `keel follow`).

CPython's cyclic collector runs its youngest generation every 700 net allocations. A
view GET reads thousands of rows, so one request sets it off dozens of times; each
pass promotes whatever the request still holds, and every hundredth young pass ends in
a full collection. A full collection walks every tracked object in the
process: the aggregate cache (a cached two-year journal is thousands of objects) and,
until it is frozen, the alert rules' state. On the 1M-event benchmark log that made two
full collections a second, each stopping the whole process for 50-200 ms, and the p99
of the team views twice what it was on a small log (bench/README.md, figure f).

A young generation of 50,000 lets a request's temporaries die by reference counting
before any pass sees them, so almost nothing is promoted, and a full collection is
considered only after 2,000 young passes (about 100 million allocations: some seconds
to minutes of a busy server). Keel's folds and caches make no reference cycles of their
own; the cycles there are (exceptions with their tracebacks, asyncio's bookkeeping)
mostly die young, and those that live longer wait for that full collection.
"""

from __future__ import annotations

import gc

YOUNG = 50_000  # net allocations between passes over the youngest generation
MIDDLE = 20  # young passes between passes over the middle generation
OLD = 100  # middle passes before a full collection is considered


def tune_for_service() -> None:
    gc.set_threshold(YOUNG, MIDDLE, OLD)
