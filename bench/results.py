"""Read-modify-write of bench/results.json and eval/results.json, one section at a time."""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_FILE = ROOT / "bench" / "results.json"
EVAL_FILE = ROOT / "eval" / "results.json"


def takes_no_options(prog: str, doc: str | None, argv: list[str] | None) -> None:
    """For a bench or eval module run without options: ``--help`` prints its docstring and
    stops, and anything else is refused by name, before any results file is rewritten."""
    argparse.ArgumentParser(
        prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args(argv)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, ``q`` in 0..100."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


# the CPU features the int8 kernels choose between: ONNX Runtime's int8 products take another
# path on AVX2 alone than with VNNI or AMX, and the classifier's readings differ slightly with it
# (issue 10, twenty-first round: the same commit and pinned versions read 17 or 18 of the
# telecom set's 300 turns as raising an intent on two machines)
INT8_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


def cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name, its family and model numbers where /proc gives them (a virtual
    machine's name, "AMD EPYC", hides which generation ran), and which of INT8_FLAGS it has,
    e.g. "AMD EPYC (family 26, model 2); avx2"."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return platform.processor() or "unknown"
    fields = dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in text.splitlines())
        if key.strip() in ("model name", "flags", "cpu family", "model")
    )
    flags = set(fields.get("flags", "").split())
    have = [flag for flag in INT8_FLAGS if flag in flags]
    name = fields.get("model name", "unknown")
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return "; ".join([name, " ".join(have) or "no avx2"])


def scorer() -> str:
    """The classifier backend the service chooses on this CPU (``onnxruntime-w8`` where it has
    an int8 dot product, else ``onnxruntime-fp32``; monitor/scoring/onnx_backend.py)."""
    from monitor.scoring.onnx_backend import default_precision  # imports torch: only here

    return f"onnxruntime-{default_precision()}"


def update_results(section: str, data: dict[str, Any], path: Path = BENCH_FILE) -> None:
    """Replace one top-level section, keeping the others, and stamp when and where.

    ``_meta`` is the stamp of the section written last, and ``_meta.sections`` keeps each
    section's own stamp, so a file whose sections came from different machines says which
    came from where (sections written before the stamps were kept have none).
    """
    current: dict[str, Any] = {}
    if path.exists():
        current = json.loads(path.read_text())
    current[section] = data
    stamp = {
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "cores": __import__("os").cpu_count(),
        "cpu": cpu(),
        "scorer": scorer(),
    }
    sections = dict(current.get("_meta", {}).get("sections", {}))
    sections[section] = stamp
    current["_meta"] = {**stamp, "sections": sections}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
