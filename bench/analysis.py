"""What the figures mean: why a missed target is missed (printed only for the figures that
miss in a run), how everything is measured, and the profile behind the explanations.

The explanations come from profiling the code as it stood on 2026-11-22 (py-spy on the
`polypost serve` / `polypost worker` subprocesses under load, cProfile and statement
counts of `publish_target` run in-process); file:line references are to that code.
"""

from __future__ import annotations

# Keyed by figure key; a key also covers keys below it ("d" would cover "d.sigkill"),
# the most specific one wins (report.render).
MISS_REASONS: dict[str, str] = {
    "a.rate.1": (
        "The API spends several times the bare endpoint's CPU on each request (the CPU row above) "
        "and one uvicorn process is CPU-bound well before Postgres is. Per request it opens two "
        "database sessions (the API-key lookup in the middleware, `auth/service.py:53`, then the "
        "route's `WriteSession`), each checkout pinging the connection first "
        "(`pool_pre_ping=True`, `core/db.py:56`), and runs 7 statements (key, accounts, workspace,"
        " duplicate-content check `posts/service.py:97`, three ORM inserts) against the bare "
        "endpoint's 2, plus a Redis rate-limit script and an arq `enqueue_job` (WATCH, EXISTS, "
        "MULTI/EXEC) for a post scheduled a day ahead. py-spy share of the API process: SQLAlchemy"
        " session and ORM execution ~25%, pool pre-ping ~8%, key lookup ~9%, account load ~8%, "
        "duplicate check ~6%, arq enqueue ~6%, FastAPI dependency resolution ~5%."
    ),
    "a.p99.1": (
        "The open loop runs at half of Polypost's own capacity, so each request's CPU (the CPU row"
        " above, several milliseconds) queues behind its neighbours whenever arrivals bunch; on "
        "two cores shared with Postgres, Redis, the load generator and any other load on the "
        "machine, the tail stretches further (compare the bare endpoint's own p99 at the same "
        "rate). Cutting CPU per request (see above) is what moves the tail."
    ),
    "a.rate.100": (
        "With 100 accounts the request is dominated by queueing the jobs: the after-commit hook "
        "enqueues the 100 targets one `await` at a time (`posts/service.py:124-127` → "
        "`worker/queue.py:32` → arq `enqueue_job`, three Redis round trips each), i.e. about 300 "
        "sequential round trips before the response is sent (`core/deps.py:43` runs hooks before "
        "responding); py-spy put ~38% of the API process there, plus ~7% building 100 `PostTarget`"
        " ORM objects. Two cheap fixes: enqueue in one Redis pipeline, and do not enqueue targets "
        "due later than the reconciler's 2-minute prestage window at all (`posts/jobs.py` PRESTAGE"
        " already hands them to arq in time), which removes Redis from the path of every scheduled"
        " post."
    ),
    "b.rate": (
        "The pipeline is CPU-bound, not queue-bound: each target costs tens of times the CPU of an"
        " arq no-op job (CPU rows above), so two worker processes saturate both cores far below "
        "the target, and on this shared machine they got much less than both cores. A publish runs"
        " 7 separate transactions and 21 statements (counted in-process): `_claim` "
        "(`posts/jobs.py:109`: post id, `SELECT … FOR UPDATE` of the whole post, UPDATE, progress,"
        " post-status refresh), `_load` (3 gets, :249), `tokens.publish_credentials` "
        "(`accounts/tokens.py:174`), `_save_progress` twice (:239, the in-flight marker before the"
        " call and the result after), the sandbox ledger insert in its own transaction "
        "(`platforms/sandbox/adapter.py:84`), and `_succeed` (:543, post lock again, UPDATE, "
        "reload, event, post-status refresh). Every checkout adds a pre-ping and BEGIN/COMMIT "
        "round trip. cProfile (CPU time) of `publish_target`: `_succeed` ~25%, `_claim` ~24%, the "
        "two `_save_progress` ~16%, `_load` ~10%, ledger insert ~7%, credentials ~7%; SQLAlchemy "
        "session open, commit and close alone ~30%. Tuning `max_jobs`/`poll_delay` cannot help a "
        "CPU-bound loop (`--max-jobs 25` against the default 100, three 1,000-target bursts each: "
        "51 against 44 targets/s on average, within the run-to-run noise, and the same CPU per "
        "target); reaching 1,000/s needs roughly a tenth of the work per target: claim due targets"
        " in batches (one `UPDATE … RETURNING` for many rows), fold the in-flight marker and the "
        "loads into the claim, derive the post status without locking the post row on every claim "
        "and success, Core statements instead of the ORM on this path, and no pre-ping."
    ),
    "b.ceiling": (
        "This is the same CPU cost seen as a ceiling: even on two idle cores the measured CPU per "
        "target caps the pipeline at this rate (see the line above)."
    ),
    "c.p99.1000": (
        "Lag here is drain time: the last of 1,000 simultaneous targets waits for all the others, "
        "so p99 < 2 s needs ≥ 500 targets/s, and the pipeline manages the rate in (b). Two further"
        " costs show up in bursts: every claim and every success takes the post row lock "
        "(`posts/lifecycle.py:27`), so the 10 targets of a post serialize (pg_stat_activity during"
        " a burst: 5-10 backends waiting on Lock/tuple or transactionid, 10-20 idle in "
        "transaction); and while a post's targets finish one by one its status flips publishing ↔ "
        "scheduled (`posts/lifecycle.py:32`), writing an UPDATE of the post and an outbox event "
        "almost every time (1.9 post updates and 2 events per target measured serially), which "
        "`dispatch_events` in each worker then processes every second."
    ),
    "c.all.10000": (
        "10,000 targets in 15 s needs ≥ 667 targets/s; the pipeline's rate in (b) puts the drain "
        "at minutes. Same causes as (b)."
    ),
    "d.flushdb": (
        "After the flush the reconciler (every 5 s in each worker) re-enqueues only targets handed"
        " to the queue more than `REQUEUE_AFTER` = 30 s ago (`posts/jobs.py:48`), and its pre-due "
        "pass had just refreshed that timestamp on every prestaged target; it then enqueues up to "
        "2,000 jobs one `enqueue_job` at a time (`posts/jobs.py:603-604`; one run re-enqueuing 760"
        " took 32 s on this loaded machine during profiling), and the slow drain of (b) comes on "
        "top. Faster: a sentinel key the reconciler checks (missing → Redis lost its data → "
        "re-enqueue regardless of the timestamp) and pipelined enqueues."
    ),
    "d.sigkill": (
        "Two timers decide it. Targets the dead worker had claimed in Postgres wait for their "
        "lease, `publish_lease_seconds` = 90 s (`settings.py:94`), before "
        "`_recover_expired_leases` hands them to a new job. Jobs it had taken from arq but not yet"
        " claimed in Postgres (it holds up to `max_jobs` = 100 while its pool has 20 connections) "
        "keep arq's in-progress key for `job_timeout` + 10 = 130 s (`worker/settings.py:70`); the "
        "reconciler re-enqueues them under the same job id and arq's dedup refuses it, so they run"
        " only when that key expires, 130 s after they were taken. Under 60 s needs both timers "
        "below ~50 s: e.g. `job_timeout` 45 s (still above the 30 s HTTP timeout) and a 45 s "
        "lease, or a reconciler that re-enqueues a stale scheduled target under a fresh job id "
        "(the claim in Postgres already prevents doubles)."
    ),
    "e.api": (
        "Most of it is import time: `import polypost.app` alone reaches ~117 MB RSS, and "
        "boto3/botocore, pypdf and Pillow are imported at start-up in every process even with "
        "local storage and no media work; importing them where they are used would save tens of MB"
        " per process."
    ),
    "e.worker": (
        "As for the API: the worker imports the whole application (boto3, pypdf, Pillow included) "
        "at start-up."
    ),
}

APPENDIX = """
## How it is measured

- **(a)** Two servers run side by side: `polypost serve` and the bare endpoint
  (`bench/baseline_app.py`: FastAPI + an asyncpg pool of 10, a pydantic body, one
  transaction inserting the post row and its target rows; no auth, rate limit, checks,
  events or queue), both one uvicorn process with uvloop and httptools. Bodies are
  posts scheduled a day ahead with unique text. Capacity is a closed loop (16
  keep-alive connections back to back); latency is an open loop at a constant arrival
  rate (half of Polypost's measured capacity, the same rate for both), timed from each
  request's scheduled send time so queueing is charged to the server (no coordinated
  omission). The load generator is a minimal HTTP/1.1 client on asyncio streams in the
  bench process (a general client such as httpx costs ~2.5 ms CPU per request, which
  would throttle the servers on two cores). CPU per request is the server process's
  user+system time plus that of the Postgres backends of the benchmark database,
  divided by the answered requests.
- **(b)/(c)** A burst: posts of 10 sandbox accounts each are created through the API,
  all `scheduledAt` the same whole second (at least 30 s ahead, since nearer times
  publish at once), then two `polypost worker` processes start. The due time is the
  target's `scheduled_at`; the platform call is the sandbox ledger entry's
  `created_at` (written when the simulated 100 ms call returns, so every lag includes
  those 100 ms); the end is the target's `published_at`. Throughput = targets ÷ (last
  `published_at` - due). The arq baseline runs two plain arq workers (no Polypost
  import) with Polypost's `max_jobs`, `poll_delay`, `job_timeout` and `keep_result`,
  on jobs enqueued with the same `_defer_until`: no-op jobs, and jobs that only sleep
  100 ms; their lag is due → job finished (arq's own `finish_time`). CPU per target is
  the workers' CPU time plus their Postgres backends' (Redis is shared with other
  users of the server and not counted); the ceiling is cores ÷ CPU per target.
- **(d)** The first burst again, with a fault 1 s after the due time: `FLUSHDB` of the
  benchmark's Redis database, or SIGKILL of one worker (a replacement starts at once,
  as a supervisor would). Recovery = fault → the last target published; the baseline
  is the undisturbed burst from the same point. Every burst also checks the ledger:
  no target may be published without a platform call or have two accepted calls.
- **(e)** Peak RSS (`VmHWM` from `/proc`) of each process over the whole run.
- Every loop has a deadline, so a run always ends; a scenario cut off at its deadline
  is reported as such, with what was finished by then.

## Reading the numbers on a busy machine

Throughput and latency depend on how much of the two cores the processes under test
actually get; CPU time per request or per target hardly does. When the machine is
shared, compare the CPU rows (and the ceilings derived from them) across runs, and
re-measure the rest on a quiet machine: `python -m bench` (15-20 minutes; `--quick`
about 8; `--only a` for one section; `--max-jobs`, `--workers`, `--bursts` to try other
settings; `--help` for the rest).
"""
