#!/usr/bin/env python
"""Run every benchmark (``make bench``) and write bench/results/latest.md: the date, the
machine, and each benchmark's table. Exits non-zero if any benchmark missed a target."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
BENCHMARKS = {
    "overhead": "The project's endpoints against stock Django",
    "instructions": "Instructions per request, counted (no target)",
    "memory": "Memory per session",
    "load": "Load and Redis failure under load",
    "listing": "Listing 1,000,000 sessions",
}


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    python = platform.python_version()
    return f"{os.cpu_count()} cores ({cpu}), Python {python}, {platform.system()}"


def main() -> int:
    RESULTS.mkdir(exist_ok=True)
    sections, failed = [], []
    for name, title in BENCHMARKS.items():
        output = RESULTS / f"{name}.md"
        print(f"== {title} (bench/{name}.py)", flush=True)
        script = str(BENCH / f"{name}.py")
        code = subprocess.call([sys.executable, script, "--output", str(output)])
        if code != 0:
            failed.append(f"{name} (exit {code})")
        table = output.read_text() if output.exists() else "(no output)\n"
        sections.append(f"## {title}\n\n{table}")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = [
        "# Benchmark results",
        "",
        f"`make bench` on {stamp}, on {machine()}.",
        "Every figure is measured in the same run as its baseline; see each script's docstring.",
        "",
        "All targets met." if not failed else "Targets missed: " + ", ".join(failed) + ".",
        "",
    ]
    (RESULTS / "latest.md").write_text("\n".join(header) + "\n" + "\n".join(sections))
    print("\n".join(header))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
