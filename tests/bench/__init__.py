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
    command = [sys.executable, f"bench/{script}", "--smoke", "--output", str(output)]
    with subprocess.Popen(
        command, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # SIGTERM first: the benchmark then stops the servers and Redis it started.
            process.terminate()
            stdout, stderr = process.communicate(timeout=30)
            message = f"bench/{script} took over {timeout} s:\n{stdout}{stderr}"
            raise AssertionError(message) from None
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    return output.read_text(), result
