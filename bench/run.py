"""Run the benchmarks: every bench/*.py (but this one and _private modules), or those named.

    .venv/bin/python bench/run.py              # all of them, one after the other
    .venv/bin/python bench/run.py api_earn     # only bench/api_earn.py
    .venv/bin/python bench/run.py api_earn -- --duration 10   # options after -- go to each

Each benchmark is a script run in its own process with this interpreter; its exit status is
passed on (the first failure wins, the others still run). Not a test module: pytest collects
only tests/ (pyproject's testpaths), and nothing here is named test_*.
"""

# ruff: noqa: T201 - a benchmark runner reports on stdout

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent


def available() -> list[str]:
    return sorted(
        path.stem
        for path in BENCH_DIR.glob("*.py")
        if path.name != "run.py" and not path.name.startswith("_")
    )


def main(argv: list[str]) -> int:
    names, extra = argv, []
    if "--" in argv:
        at = argv.index("--")
        names, extra = argv[:at], argv[at + 1 :]
    known = available()
    if any(name in {"-h", "--help"} for name in names):
        print(__doc__.strip())
        print("\nBenchmarks:", ", ".join(known) or "none")
        return 0
    chosen = [name.removesuffix(".py").removeprefix("bench/") for name in names] or known
    unknown = [name for name in chosen if name not in known]
    if unknown:
        print(f"Unknown benchmark(s): {', '.join(unknown)}; there are: {', '.join(known)}")
        return 2
    status = 0
    for name in chosen:
        print(f"=== bench/{name}.py", flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(BENCH_DIR / f"{name}.py"), *extra], cwd=ROOT)
        took = time.monotonic() - started
        print(f"=== bench/{name}.py: exit {result.returncode} in {took:.0f} s")
        status = status or result.returncode
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
