"""Keel's benchmarks: each figure is a ratio to a baseline measured in the same run.

Run with `make bench` (or `.venv/bin/python -m bench --help`). The figures are

(a) eventsourcing's own save-one-event rate on SQLite, as a reference;
(b) Keel's `POST /v1/goals/{id}/target` over HTTP against a bare FastAPI POST of the
    same size, both behind one uvicorn worker;
(c) a full projection rebuild against eventsourcing's raw read-and-decode of the log.

Ratios, not absolute rates, are what we hold targets on: the machine is shared and
noisy, but both sides of a ratio suffer the same noise when measured alternately.
"""
