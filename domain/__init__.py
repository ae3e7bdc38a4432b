"""Keel's domain: aggregates, their events and invariants. No infrastructure here."""
