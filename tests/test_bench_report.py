"""The benchmark page can be written again from a saved run (`python -m bench --render`)."""

from __future__ import annotations

import json
import math

from bench.report import Figure, Run, render


def test_a_saved_run_renders_the_same_page() -> None:
    run = Run(mode="quick", started="now", machine={"CPU": "x"}, versions={}, settings={})
    run.add(
        Figure(
            "b.rate", "b", "targets/s", 563.0, "/s", 1143.0, "no-op", "higher", "≥ 1,000/s", False
        )
    )
    run.add(Figure("e.api", "e", "RSS", math.nan, "MB", None, "bare", "lower"))
    run.detail("burst", "10000 due")
    saved = json.loads(json.dumps(run.as_json(), default=str))
    again = Run.from_json(saved)
    reasons = {"b.rate": "CPU-bound."}
    assert render(again, reasons, "") == render(run, reasons, "")
    assert again.figures[0].ratio == run.figures[0].ratio
