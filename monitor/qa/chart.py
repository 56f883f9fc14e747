"""The risk / sentiment curve of a call as an inline SVG (no scripts, no external files).

The QA page draws the same picture in the browser (web/qa.js) with clickable markers; this one
is for the self-contained report.
"""

from __future__ import annotations

from html import escape
from typing import Any

WIDTH, HEIGHT = 900, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 44, 18, 30


def mmss(seconds: float) -> str:
    s = max(0, int(seconds + 0.5))  # half up, as the QA page's Math.round
    return f"{s // 60:02d}:{s % 60:02d}"


def curve_svg(call: dict[str, Any]) -> str:
    """Risk (0-100, red) and customer sentiment (-1..1, blue) over call time, with alert
    (triangles) and card (circles) markers."""
    risks = call["risks"]
    meta = call["call"]
    duration = float(
        meta.get("end_at")
        or meta.get("audio_seconds")
        or max([r["at"] for r in risks] + [u["end"] for u in call["utterances"]] + [1.0])
    )
    duration = max(duration, 1.0)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return round(LEFT + plot_w * min(max(t, 0.0), duration) / duration, 1)

    def y_risk(r: float) -> float:
        return round(TOP + plot_h * (1 - min(max(r, 0.0), 100.0) / 100.0), 1)

    def y_sent(s: float) -> float:
        return round(TOP + plot_h * (1 - (min(max(s, -1.0), 1.0) + 1) / 2), 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" class="curve" '
        f'aria-label="risk and sentiment over the call">',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" '
        'stroke="#ccc"/>',
        f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y_sent(0)}" y2="{y_sent(0)}" '
        'stroke="#ddd" stroke-dasharray="4 4"/>',
    ]
    step = next(s for s in (5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600) if duration / s <= 10)
    t = 0.0
    while t <= duration + 1e-9:
        parts.append(
            f'<text x="{x(t)}" y="{HEIGHT - 10}" font-size="11" text-anchor="middle" '
            f'fill="#555">{mmss(t)}</text>'
        )
        t += step
    for value in (0, 50, 100):
        parts.append(
            f'<text x="{LEFT - 6}" y="{y_risk(value) + 4}" font-size="11" text-anchor="end" '
            f'fill="#b22">{value}</text>'
        )
    for value in (-1, 0, 1):
        parts.append(
            f'<text x="{LEFT + plot_w + 6}" y="{y_sent(value) + 4}" font-size="11" '
            f'fill="#226">{value:+d}</text>'
        )
    if risks:
        pts = " ".join(f"{x(r['at'])},{y_risk(r['risk'])}" for r in risks)
        parts.append(
            f'<polyline class="risk" points="{pts}" fill="none" stroke="#c22" stroke-width="2"/>'
        )
        pts = " ".join(f"{x(r['at'])},{y_sent(r['sentiment'])}" for r in risks)
        parts.append(
            f'<polyline class="sentiment" points="{pts}" fill="none" stroke="#22a" '
            'stroke-width="2"/>'
        )
    for a in call["alerts"]:
        ax = x(a["at"])
        color = {"critical": "#c00", "warning": "#e80"}.get(a["severity"], "#888")
        parts.append(
            f'<polygon class="alert-marker" points="{ax - 6},{TOP - 2} {ax + 6},{TOP - 2} '
            f'{ax},{TOP + 9}" fill="{color}"><title>{mmss(a["at"])} {escape(a["kind"])}: '
            f"{escape(a['message'])}</title></polygon>"
        )
    for c in call["cards"]:
        parts.append(
            f'<circle class="card-marker" cx="{x(c["at"])}" cy="{TOP + plot_h - 6}" r="5" '
            f'fill="#2a7"><title>{mmss(c["at"])} card: {escape(c["title"])}</title></circle>'
        )
    parts.append("</svg>")
    return "".join(parts)
