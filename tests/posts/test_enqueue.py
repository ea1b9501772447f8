"""Which job publishes which targets: one job per post and due instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from polypost.posts.enqueue import GROUP_SIZE, DueTarget, job_id, plan_jobs

NOON = datetime(2026, 7, 1, 12, tzinfo=UTC)


def test_targets_of_one_post_due_together_are_one_job() -> None:
    planned = plan_jobs([DueTarget("pst_1", f"tgt_{n}", 1, NOON) for n in (3, 1, 2)])
    assert len(planned) == 1
    job = planned[0]
    assert job.function == "publish_targets"
    assert job.args == ("pst_1", [["tgt_1", 1], ["tgt_2", 1], ["tgt_3", 1]])
    assert job.when == NOON


def test_a_lone_target_keeps_its_own_job() -> None:
    (job,) = plan_jobs([DueTarget("pst_1", "tgt_1", 4, NOON)])
    assert (job.function, job.args, job.job_id) == (
        "publish_target",
        ("tgt_1", 4),
        job_id("tgt_1", 4),
    )


def test_other_posts_and_other_instants_are_other_jobs() -> None:
    later = NOON + timedelta(hours=3)
    planned = plan_jobs(
        [
            DueTarget("pst_1", "tgt_a", 1, NOON),
            DueTarget("pst_1", "tgt_b", 1, NOON),
            DueTarget("pst_1", "tgt_c", 1, later),  # its platform has its own schedule
            DueTarget("pst_2", "tgt_d", 1, NOON),
            DueTarget("pst_2", "tgt_e", 1, NOON),
        ]
    )
    groups = sorted((job.when, [t.target_id for t in job.targets]) for job in planned)
    assert groups == [
        (NOON, ["tgt_a", "tgt_b"]),
        (NOON, ["tgt_d", "tgt_e"]),
        (later, ["tgt_c"]),
    ]


def test_a_large_fan_out_is_split() -> None:
    due = [DueTarget("pst_1", f"tgt_{n:03}", 1, NOON) for n in range(GROUP_SIZE * 2 + 1)]
    sizes = [len(job.targets) for job in plan_jobs(due)]
    assert sizes == [GROUP_SIZE, GROUP_SIZE, 1]


def test_job_ids_dedupe_the_same_work_and_change_with_a_revision() -> None:
    first = plan_jobs([DueTarget("pst_1", "tgt_a", 1, NOON), DueTarget("pst_1", "tgt_b", 1, NOON)])
    again = plan_jobs([DueTarget("pst_1", "tgt_b", 1, NOON), DueTarget("pst_1", "tgt_a", 1, NOON)])
    edited = plan_jobs([DueTarget("pst_1", "tgt_a", 2, NOON), DueTarget("pst_1", "tgt_b", 1, NOON)])
    assert first[0].job_id == again[0].job_id
    assert first[0].job_id != edited[0].job_id
