"""How bench/api_earn.py names a gunicorn set-up and formats its figures (a library module:
bench/run.py skips _private modules)."""

from __future__ import annotations

import re


def parse_server(spec: str) -> tuple[str, int, int]:
    match = re.fullmatch(r"(sync|gthread):(\d+)(?:x(\d+))?", spec)
    if not match:
        raise SystemExit(f"--server {spec!r}: write sync:WORKERS or gthread:WORKERSxTHREADS")
    worker_class, workers, threads = match[1], int(match[2]), int(match[3] or 1)
    if worker_class == "sync":
        threads = 1
    return worker_class, workers, threads


def server_label(server: tuple[str, int, int]) -> str:
    worker_class, workers, threads = server
    return f"{worker_class} {workers}" + (f"×{threads}" if worker_class == "gthread" else "")


def report_row(server, load: dict) -> str:
    return (
        f"| {load.get('shape', 'bare')} | {server_label(server)} | {load['connections']} | "
        f"{load['rps']:.0f} | "
        f"{load['p50_ms']:.1f} | {load['p99_ms']:.1f} | {load['errors']} | "
        f"{percent(load['others'])} | {format_cpu(load['cpu_ms'])} | "
        + (f"{load['ceiling']:.0f} |" if load["ceiling"] else "? |")
    )


def percent(share: float | None) -> str:
    return "?" if share is None else f"{100 * share:.0f}%"


def format_cpu(cpu_ms: dict) -> str:
    parts = " + ".join(f"{name} {ms:.2f}" for name, ms in cpu_ms.items())
    return f"{sum(cpu_ms.values()):.2f} ms ({parts})"


def format_kinds(kinds: dict) -> str:
    ordered = sorted(kinds.items(), key=lambda item: -item[1])
    return ", ".join(f"{count} {kind}" for kind, count in ordered)
