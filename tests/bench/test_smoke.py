"""The benchmarks still run: their smoke mode, a few seconds, never the full load."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def test_listing_benchmark_smoke_mode_runs_and_reports(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    result = subprocess.run(
        [sys.executable, "bench/listing.py", "--smoke", "--output", str(tmp_path / "out.md")],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    table = (tmp_path / "out.md").read_text()
    assert "| dashboard, first page (50) |" in table
    assert "Redis memory per session" in table
    assert "targets: " in table  # judged in full runs only: CI machines are noisy
