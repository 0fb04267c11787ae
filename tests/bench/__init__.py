"""Running a benchmark's smoke mode from a test, as `make test` does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def run_bench(
    script: str, tmp_path: Path, timeout: int = 120
) -> tuple[str, subprocess.CompletedProcess]:
    """Run ``bench/<script> --smoke`` with its own Redis; return its table and the result."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    output = tmp_path / "out.md"
    result = subprocess.run(
        [sys.executable, f"bench/{script}", "--smoke", "--output", str(output)],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return output.read_text(), result
