"""(a) `POST /v1/posts` against the bare FastAPI + asyncpg endpoint, and (e) the API's
memory beside the bare app's."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import config
from bench.harness import Harness
from bench.loadgen import BodyFactory, LoadResult, closed_loop, open_loop
from bench.report import Figure, Run
from bench.services import CpuMeter, Service, free_port, python_argv, wait_http

SECTION = "(a) POST /v1/posts"
_unique = itertools.count()


def post_body(accounts: list[str], tag: str) -> BodyFactory:
    """A scheduled post (a day ahead, so nothing publishes) with unique content: the
    duplicate guard runs but never refuses."""
    when = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")

    def body(index: int) -> dict[str, Any]:
        return {
            "accountIds": accounts,
            "content": f"benchmark post {tag} {index} {next(_unique)}",
            "scheduledAt": when,
        }

    return body


async def capacity(
    sizes: config.Sizes, url: str, headers: dict[str, str], body: BodyFactory
) -> LoadResult:
    return await closed_loop(
        url,
        headers,
        body,
        concurrency=sizes.api_concurrency,
        seconds=sizes.api_seconds,
        warmup=sizes.api_warmup_seconds,
    )


async def latency(
    sizes: config.Sizes, url: str, headers: dict[str, str], body: BodyFactory, rate: float
) -> LoadResult:
    return await open_loop(
        url, headers, body, rate=rate, seconds=sizes.api_seconds, warmup=sizes.api_warmup_seconds
    )


def ms(seconds: float) -> float:
    return seconds * 1000


def describe(result: LoadResult) -> str:
    text = (
        f"{result.completed} ok in {result.seconds:.0f} s ({result.rate:,.0f}/s), "
        f"p50 {ms(result.p(0.5)):.1f} ms, p99 {ms(result.p(0.99)):.1f} ms, "
        f"{result.errors} errors"
    )
    if result.first_error:
        text += f" (first: {result.first_error})"
    return text


async def run_api(harness: Harness, run: Run) -> Service:
    """Measure both servers at each fan-out; returns the bare app (still running)."""
    sizes = harness.sizes
    port = free_port()
    env = harness.env()
    env["BENCH_BASELINE_DSN"] = config.asyncpg_dsn(config.database_url())
    bare = Service(
        "bare FastAPI+asyncpg",
        python_argv(
            "-m",
            "uvicorn",
            "bench.baseline_app:app",
            "--host",
            config.HOST,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ),
        env,
        harness.workdir / "bare-api.log",
    )
    bare.start()
    bare_url = f"http://{config.HOST}:{port}"
    await wait_http(f"{bare_url}/healthz", bare)
    polypost_url = f"{harness.api_url}/v1/posts"
    for fanout in sizes.fanouts:
        accounts = harness.accounts[:fanout]
        tag = f"{fanout}acc"
        body = post_body(accounts, tag)
        assert harness.api is not None
        meter = await CpuMeter.start([harness.api.pid])
        ours = await capacity(sizes, polypost_url, harness.headers, body)
        ours_cpu = sum(await meter.stop()) / max(1, ours.answered)
        harness.sample_memory()
        meter = await CpuMeter.start([bare.pid])
        theirs = await capacity(sizes, f"{bare_url}/v1/posts", {}, body)
        theirs_cpu = sum(await meter.stop()) / max(1, theirs.answered)
        bare.memory()
        rate = max(1.0, min(sizes.open_loop_max_rate, sizes.open_loop_fraction * ours.rate))
        ours_open = await latency(sizes, polypost_url, harness.headers, body, rate)
        harness.sample_memory()
        theirs_open = await latency(sizes, f"{bare_url}/v1/posts", {}, body, rate)
        bare.memory()
        noun = "account" if fanout == 1 else "accounts"
        run.add(
            Figure(
                key=f"a.rate.{fanout}",
                section=SECTION,
                label=f"{fanout} {noun}/post: requests/s "
                f"(closed loop, {sizes.api_concurrency} connections)",
                value=ours.rate,
                unit="req/s",
                baseline=theirs.rate,
                baseline_label="bare endpoint",
                better="higher",
                target="≥ 50% of bare",
                met=theirs.rate > 0 and ours.rate / theirs.rate >= 0.5 and ours.errors == 0,
            )
        )
        run.add(
            Figure(
                key=f"a.cpu.{fanout}",
                section=SECTION,
                label=f"{fanout} {noun}/post: CPU per request (server process + its "
                "Postgres backends)",
                value=ms(ours_cpu),
                unit="ms",
                baseline=ms(theirs_cpu),
                baseline_label="bare endpoint",
                better="lower",
            )
        )
        for fraction, name in ((0.5, "p50"), (0.99, "p99")):
            target = "< 50 ms" if fanout == 1 and name == "p99" else ""
            value = ms(ours_open.p(fraction))
            run.add(
                Figure(
                    key=f"a.{name}.{fanout}",
                    section=SECTION,
                    label=f"{fanout} {noun}/post: {name} latency (open loop, {rate:,.0f} req/s)",
                    value=value,
                    unit="ms",
                    baseline=ms(theirs_open.p(fraction)),
                    baseline_label="bare endpoint, same rate",
                    better="lower",
                    target=target,
                    met=(value < 50 and ours_open.errors == 0) if target else None,
                )
            )
        run.detail(f"(a) {fanout} {noun}, Polypost closed loop", describe(ours))
        run.detail(f"(a) {fanout} {noun}, bare closed loop", describe(theirs))
        run.detail(f"(a) {fanout} {noun}, Polypost open loop at {rate:,.0f}/s", describe(ours_open))
        run.detail(f"(a) {fanout} {noun}, bare open loop at {rate:,.0f}/s", describe(theirs_open))
    return bare
