"""The benchmarks still run: their smoke mode, a few seconds, never the full load."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.bench import run_bench


def test_listing_benchmark_smoke_mode_runs_and_reports(tmp_path):
    table, _ = run_bench("listing.py", tmp_path)
    assert "| dashboard, first page (50) |" in table
    assert "Redis memory per session" in table
    assert "targets: " in table  # judged in full runs only: CI machines are noisy


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make tools)")
def test_overhead_benchmark_smoke_mode_counts_one_round_trip_per_signed_in_read(tmp_path):
    table, _ = run_bench("overhead.py", tmp_path)
    for row in ("(a) no session", "(b) Django's stock", "(c) ours"):
        assert f"| {row} |" in table
    assert "Overhead ratio (c)/(b):" in table
    # Counted, not timed, so judged even in smoke mode: the plain read is one EVALSHA.
    assert "| signed-in GET (no touch due) | 1 (GET) | 1 (EVALSHA) |" in table


def test_memory_benchmark_smoke_mode_keeps_sessions_compact(tmp_path):
    table, _ = run_bench("memory.py", tmp_path)
    ratio = float(re.search(r"Ratio ours / stock: ([\d.]+)", table).group(1))
    # Bytes, not time: stable enough to guard against a regression such as a session hash
    # falling back from a listpack to a hash table (which measured 4.0 here). The bound was
    # 2.5 until each signed-in session gained its sign-in record for the session events
    # (`{sa:n}:w`, 112 bytes: 2.49 here); the capped event log is measured apart.
    assert 1.0 < ratio < 2.8, table
