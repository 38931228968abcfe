"""Benchmarks of Container Svc side by side with the raw Docker engine, run with `scripts/bench`.

Everything Django is imported after `bench.environment.prepare()` has pointed the settings at a temporary
SQLite database and data directory under var/, so a run never touches the service's own data.
"""
