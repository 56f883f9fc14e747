"""Read-modify-write of bench/results.json and eval/results.json, one section at a time."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_FILE = ROOT / "bench" / "results.json"
EVAL_FILE = ROOT / "eval" / "results.json"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, ``q`` in 0..100."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def update_results(section: str, data: dict[str, Any], path: Path = BENCH_FILE) -> None:
    """Replace one top-level section, keeping the others, and stamp when and where."""
    current: dict[str, Any] = {}
    if path.exists():
        current = json.loads(path.read_text())
    current[section] = data
    current["_meta"] = {
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "cores": __import__("os").cpu_count(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
