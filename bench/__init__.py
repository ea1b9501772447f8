"""Benchmarks of the publishing engine: `python -m bench` (or `make bench`).

Everything runs against real services on 127.0.0.1 (Postgres, Redis) with real
`polypost serve` / `polypost worker` subprocesses, and writes docs/benchmarks.md with
every figure beside a baseline measured in the same run.
"""
