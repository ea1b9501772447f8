"""`python -m bench`: set up, run every scenario, write docs/benchmarks.md."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench import analysis, config
from bench.api_bench import run_api
from bench.harness import Harness, queue_settings
from bench.pipeline import Burst, Fault, arq_burst, polypost_burst
from bench.report import Figure, Run, render
from bench.services import ROOT, Service, flush_redis, recreate_database

SECTIONS = ("a", "b", "c", "d", "e")
PACKAGES = (
    "fastapi",
    "starlette",
    "pydantic",
    "sqlalchemy",
    "asyncpg",
    "uvicorn",
    "uvloop",
    "httptools",
    "arq",
    "redis",
    "httpx",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="short run: 5 s API windows, one burst of 1,000"
    )
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help="comma list of sections to run (a: API, b: throughput, c: lag, d: recovery, "
        "e: memory of whatever ran); default all",
    )
    parser.add_argument("--bursts", help="burst sizes for (b)/(c), e.g. 1000,10000")
    parser.add_argument("--api-seconds", type=float, help="measurement window of (a)")
    parser.add_argument("--workers", type=int, help="polypost worker processes (default 2)")
    parser.add_argument(
        "--max-jobs", type=int, help="arq jobs per worker (default: Polypost's WorkerSettings)"
    )
    parser.add_argument(
        "--log-level", default="INFO", help="POLYPOST_LOG_LEVEL of the processes under test"
    )
    parser.add_argument(
        "--output",
        default=str(ROOT / "docs" / "benchmarks.md"),
        help="markdown file to write ('-' for stdout)",
    )
    parser.add_argument("--json", help="also write the raw figures as JSON here")
    parser.add_argument(
        "--render",
        metavar="JSON",
        help="measure nothing: write the page again from a run saved with --json, with the "
        "current explanations",
    )
    return parser.parse_args(argv)


def sizes_from(args: argparse.Namespace) -> config.Sizes:
    sizes = config.QUICK if args.quick else config.FULL
    if args.bursts:
        sizes = replace(sizes, bursts=tuple(int(n) for n in args.bursts.split(",")))
    if args.api_seconds:
        sizes = replace(sizes, api_seconds=args.api_seconds)
    if args.workers:
        sizes = replace(sizes, workers=args.workers)
    if args.max_jobs:
        sizes = replace(sizes, max_jobs=args.max_jobs)
    return sizes


def _read(path: str, prefix: str) -> str:
    """The value of the first `prefix…` line of a `key: value` or `KEY="value"` file."""
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(prefix):
                    value = line[len(prefix) :].strip().lstrip(":").strip()
                    return value.strip('"')
    except OSError:
        pass
    return "?"


def load_average() -> str:
    """Load average, and the kernel's CPU pressure: the share of the last minute in which
    some runnable task waited for a CPU (0% on an idle machine)."""
    text = " / ".join(f"{value:.2f}" for value in os.getloadavg()) + " (1/5/15 min)"
    pressure = _read("/proc/pressure/cpu", "some")
    for field in pressure.split():
        if field.startswith("avg60="):
            text += f"; CPU pressure {field.removeprefix('avg60=')}% over the last minute"
    return text


def machine() -> dict[str, str]:
    memory_kb = _read("/proc/meminfo", "MemTotal").split()[0]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": f"{_read('/proc/cpuinfo', 'model name')}, nproc = {os.cpu_count()}",
        "RAM": f"{int(memory_kb) / 1024**2:.1f} GiB" if memory_kb.isdigit() else "?",
        "OS": f"{_read('/etc/os-release', 'PRETTY_NAME=')}, kernel {platform.release()}",
        "load at start": load_average(),
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


async def versions() -> dict[str, str]:
    found = {"Python": platform.python_version()}
    engine = create_async_engine(config.PG_ADMIN_URL)
    try:
        async with engine.connect() as conn:
            found["PostgreSQL"] = str((await conn.execute(text("SHOW server_version"))).scalar())
            for name in ("shared_buffers", "synchronous_commit", "max_connections"):
                value = (await conn.execute(text(f"SHOW {name}"))).scalar()
                found[f"PostgreSQL {name}"] = str(value)
    finally:
        await engine.dispose()
    redis = Redis.from_url(config.redis_url())
    try:
        found["Redis"] = str((await redis.info("server"))["redis_version"])
    finally:
        await redis.aclose()  # type: ignore[attr-defined]
    found["packages"] = ", ".join(f"{name} {metadata.version(name)}" for name in PACKAGES)
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = (
        " with uncommitted changes" if _git("status", "--porcelain", "--untracked-files=no") else ""
    )
    found["Polypost"] = f"{commit}{dirty}" if commit else "?"
    return found


def settings_under_test(sizes: config.Sizes, log_level: str) -> dict[str, str]:
    from polypost.posts.jobs import PRESTAGE, RECONCILE_BATCH, REQUEUE_AFTER
    from polypost.settings import Settings
    from polypost.worker.functions import RECONCILE_INTERVAL

    lease = Settings.model_fields["publish_lease_seconds"].default
    queue = ", ".join(f"{k}={v}" for k, v in queue_settings(sizes.max_jobs).items())
    return {
        "Services": f"PostgreSQL and Redis on 127.0.0.1; database `{config.DATABASE}` "
        f"dropped, created and migrated at the start; Redis database {config.REDIS_DB}, "
        "emptied with FLUSHDB (never FLUSHALL: other processes use other databases of "
        "the same server), which is also the fault injected in (d)",
        "API": "`polypost serve` (one uvicorn process, uvloop + httptools), distributed "
        f"mode, log level {log_level}, per-key rate limit raised out of the way",
        "Workers": f"{sizes.workers} `polypost worker` processes (arq: {queue}); "
        f"reconciler every {RECONCILE_INTERVAL} s, batch {RECONCILE_BATCH}, prestage "
        f"{PRESTAGE.total_seconds():.0f} s, requeue after {REQUEUE_AFTER.total_seconds():.0f} "
        f"s; publish lease {lease:.0f} s (the default)",
        "Sandbox": f"{sizes.accounts} accounts, {sizes.sandbox_latency_ms} ms per platform "
        f"call; pipeline posts go to {sizes.pipeline_fanout} accounts each",
        "Load generator": "this process (a minimal HTTP/1.1 client on asyncio streams) on "
        "the same cores",
    }


def selected(args: argparse.Namespace) -> set[str]:
    chosen = {part.strip() for part in args.only.split(",") if part.strip()}
    unknown = chosen - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown sections: {sorted(unknown)}; choose from {SECTIONS}")
    return chosen


async def guarded(run: Run, name: str, body: Callable[[], Awaitable[Any]]) -> Any:
    """Run one scenario; a failure is recorded (and printed) and the run goes on."""
    print(f"[bench] {name} …", flush=True)
    started = time.monotonic()
    try:
        result = await body()
    except Exception as exc:
        traceback.print_exc()
        run.failures.append(f"{name}: {type(exc).__name__}: {str(exc)[:500]}")
        return None
    print(f"[bench] {name} done in {time.monotonic() - started:.0f} s", flush=True)
    return result


def burst_figures(run: Run, ours: dict[int, Burst], arq_wait: dict[int, Burst]) -> None:
    for size, burst in sorted(ours.items()):
        base = arq_wait.get(size)
        cut = (
            ""
            if burst.complete
            else f"run stopped with {burst.published:,} of {size:,} published; the rest "
            "would lag more"
        )
        for fraction, name in ((0.5, "p50"), (0.99, "p99")):
            value = burst.lag(fraction)
            target = "< 2 s" if size == 1_000 and name == "p99" else ""
            run.add(
                Figure(
                    key=f"c.{name}.{size}",
                    section="(c) scheduling lag",
                    label=f"{size:,} due in one second: {name} due → platform call",
                    value=value,
                    unit="s",
                    baseline=base.lag(fraction) if base else None,
                    baseline_label="arq 100 ms jobs: due → done",
                    better="lower",
                    target=target,
                    met=(value < 2.0 and burst.complete and not burst.failed) if target else None,
                    note=cut,
                )
            )
        done = burst.all_done_after
        if burst.gave_up_at is not None:
            done = burst.gave_up_at - burst.due
        target = "< 15 s" if size == 10_000 else ""
        run.add(
            Figure(
                key=f"c.all.{size}",
                section="(c) scheduling lag",
                label=f"{size:,} due in one second: all published after",
                value=done,
                unit="s",
                baseline=base.all_done_after if base else None,
                baseline_label="arq 100 ms jobs: all done",
                better="lower",
                target=target,
                met=(done < 15 and burst.complete and burst.published == size) if target else None,
                note=f"more than this: {cut}" if cut else "",
            )
        )


async def main_async(args: argparse.Namespace) -> int:
    sizes = sizes_from(args)
    chosen = selected(args)
    run = Run(
        mode="quick" if args.quick else "full",
        started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        machine=machine(),
        versions=await versions(),
        settings=settings_under_test(sizes, args.log_level),
    )
    workdir = Path(tempfile.mkdtemp(prefix="polypost-bench-"))
    print(f"[bench] logs in {workdir}", flush=True)
    harness = Harness(sizes=sizes, workdir=workdir, log_level=args.log_level)
    bare: Service | None = None
    try:
        await recreate_database()
        await flush_redis()
        await harness.start_api()
        await harness.create_tenant()
        await harness.connect_accounts(sizes.accounts, sizes.sandbox_latency_ms)
        if "a" in chosen:
            bare = await guarded(run, "(a) POST /v1/posts", partial(run_api, harness, run))
            if bare is not None:
                bare.stop()
        if chosen & {"b", "c", "d"}:
            await pipeline(run, harness, chosen)
        harness.stop_all()
        if "e" in chosen:
            memory_figures(run, harness, bare)
    finally:
        harness.stop_all()
        if bare is not None:
            bare.stop()
        await flush_redis()  # leave the benchmark's Redis database empty
    run.machine["load at end"] = load_average()
    run.finished = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    write_page(run, args.output)
    if args.json:
        Path(args.json).write_text(json.dumps(run.as_json(), indent=2, default=str))
    for failure in run.failures:
        print(f"[bench] FAILED {failure}", file=sys.stderr)
    return 1 if run.failures else 0


async def pipeline(run: Run, harness: Harness, chosen: set[str]) -> None:
    """The arq baselines first, then the same bursts through Polypost."""
    sizes = harness.sizes
    burst_sizes = list(sizes.bursts) if chosen & {"b", "c"} else [sizes.bursts[0]]
    largest = max(burst_sizes)
    ours: dict[int, Burst] = {}
    arq_wait: dict[int, Burst] = {}
    arq_noop: Burst | None = None
    for size in burst_sizes:
        name = f"arq baseline: {size:,} jobs of 100 ms"
        result = await guarded(run, name, partial(arq_burst, harness, size, "wait_100ms"))
        if result is not None:
            arq_wait[size], peak = result
            harness.arq_peak_mb = max(harness.arq_peak_mb, peak)
            run.detail(f"arq 100 ms jobs, burst of {size:,}", arq_wait[size].summary())
    if "b" in chosen:
        name = f"arq baseline: {largest:,} no-op jobs"
        result = await guarded(run, name, partial(arq_burst, harness, largest, "noop"))
        if result is not None:
            arq_noop, peak = result
            harness.arq_peak_mb = max(harness.arq_peak_mb, peak)
            run.detail(f"arq no-op jobs, burst of {largest:,}", arq_noop.summary())
    for size in burst_sizes:
        name = f"Polypost: {size:,} targets due together"
        burst = await guarded(run, name, partial(polypost_burst, harness, size))
        if burst is not None:
            ours[size] = burst
            run.detail(f"Polypost, burst of {size:,}", burst.summary())
    if "b" in chosen and largest in ours:
        throughput_figures(run, sizes, ours[largest], arq_noop, arq_wait.get(largest))
    if "c" in chosen:
        burst_figures(run, ours, arq_wait)
    if "d" in chosen:
        await recovery(run, harness, ours.get(sizes.bursts[0]))


def throughput_figures(
    run: Run, sizes: config.Sizes, burst: Burst, noop: Burst | None, wait: Burst | None
) -> None:
    rate = burst.throughput
    noop_rate = noop.throughput if noop else None
    run.add(
        Figure(
            key="b.rate",
            section="(b) publish pipeline",
            label=f"targets/s due → published ({burst.size:,} due together, "
            f"{sizes.workers} workers, sandbox {sizes.sandbox_latency_ms} ms)",
            value=rate,
            unit="/s",
            baseline=noop_rate,
            baseline_label="arq no-op jobs/s",
            better="higher",
            target="≥ 1,000/s and ≥ 50% of no-op",
            met=rate >= 1000 and noop_rate is not None and rate / noop_rate >= 0.5,
        )
    )
    cpu = burst.cpu_per_target()
    noop_cpu = noop.cpu_per_target() if noop else None
    if cpu is not None:
        run.add(
            Figure(
                key="b.cpu",
                section="(b) publish pipeline",
                label="CPU per target (workers + their Postgres backends)",
                value=1000 * cpu,
                unit="ms",
                baseline=1000 * noop_cpu if noop_cpu else None,
                baseline_label="arq no-op job (worker)",
                better="lower",
            )
        )
        cores = os.cpu_count() or 1
        run.add(
            Figure(
                key="b.ceiling",
                section="(b) publish pipeline",
                label=f"CPU-bound ceiling on {cores} idle cores ({cores} ÷ CPU per target, "
                "an estimate that ignores Redis and the load generator)",
                value=cores / cpu,
                unit="/s",
                baseline=cores / noop_cpu if noop_cpu else None,
                baseline_label="same for arq no-op jobs",
                better="higher",
                target="≥ 1,000/s",
                met=cores / cpu >= 1000,
            )
        )
    if wait is not None:
        run.add(
            Figure(
                key="b.rate-wait",
                section="(b) publish pipeline",
                label="the same, beside arq jobs that only wait 100 ms",
                value=rate,
                unit="/s",
                baseline=wait.throughput,
                baseline_label="arq 100 ms jobs/s",
                better="higher",
            )
        )


async def recovery(run: Run, harness: Harness, undisturbed: Burst | None) -> None:
    sizes = harness.sizes
    size = sizes.bursts[0]
    if undisturbed is None:
        name = f"Polypost: {size:,} targets, undisturbed"
        undisturbed = await guarded(run, name, partial(polypost_burst, harness, size))
    remaining = undisturbed.all_done_after - sizes.fault_after_seconds if undisturbed else None
    faults: tuple[tuple[Fault, str], ...] = (
        ("flushdb", "after Redis FLUSHDB"),
        ("sigkill", "after SIGKILL of a worker"),
    )
    for fault, label in faults:
        name = f"Polypost: {size:,} targets, {fault} mid-burst"
        burst: Burst | None = await guarded(
            run, name, partial(polypost_burst, harness, size, fault=fault, tag=fault)
        )
        if burst is None:
            continue
        run.detail(f"Polypost burst {size:,} with {fault}", burst.summary())
        value = burst.recovery
        complete = burst.published == size and burst.duplicates == 0
        run.add(
            Figure(
                key=f"d.{fault}",
                section="(d) recovery",
                label=f"{label} {sizes.fault_after_seconds:.0f} s into a {size:,} burst: "
                "fault → every target published",
                value=value,
                unit="s",
                baseline=remaining,
                baseline_label="the undisturbed burst, same point → done",
                better="lower",
                target="< 60 s, none lost or doubled",
                met=value < 60 and complete,
                note=f"{size - burst.published:,} not published, {burst.duplicates} "
                "published twice"
                + (
                    ""
                    if burst.complete
                    else f"; the run stopped {sizes.recovery_limit_seconds:.0f} s after due"
                ),
            )
        )


def margin(value: float, limit: float) -> str:
    return f"{limit - value:.0f} MB below the limit" if 0 <= limit - value < 0.1 * limit else ""


def memory_figures(run: Run, harness: Harness, bare: Service | None) -> None:
    arq_peak = harness.arq_peak_mb
    if harness.api_peak_mb:
        run.add(
            Figure(
                key="e.api",
                section="(e) memory",
                label="API process, peak RSS",
                value=harness.api_peak_mb,
                unit="MB",
                baseline=bare.peak_mb if bare and bare.peak_mb else None,
                baseline_label="bare FastAPI+asyncpg app" if bare else "",
                better="lower",
                target="< 150 MB",
                met=harness.api_peak_mb < 150,
                note=margin(harness.api_peak_mb, 150),
            )
        )
    if harness.worker_peak_mb:
        run.add(
            Figure(
                key="e.worker",
                section="(e) memory",
                label="worker process, peak RSS (highest of all workers)",
                value=harness.worker_peak_mb,
                unit="MB",
                baseline=arq_peak or None,
                baseline_label="arq worker running no-op jobs" if arq_peak else "",
                better="lower",
                target="< 150 MB",
                met=harness.worker_peak_mb < 150,
                note=margin(harness.worker_peak_mb, 150),
            )
        )


def write_page(run: Run, output: str) -> None:
    page = render(run, analysis.MISS_REASONS, analysis.APPENDIX)
    if output == "-":
        sys.stdout.write(page)
    else:
        Path(output).write_text(page)
        print(f"[bench] wrote {output}", flush=True)


def render_saved(args: argparse.Namespace) -> int:
    write_page(Run.from_json(json.loads(Path(args.render).read_text())), args.output)
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    args = parse_args(argv)
    if args.render:
        return render_saved(args)
    return asyncio.run(main_async(args))
