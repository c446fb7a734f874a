"""Draw bench/run.py's ratios per framework and route as an SVG bar chart (no plotting library).

    uv run python bench/chart.py --floor bench/results/s8-sqlite.json \
        --peer bench/results/s8-memory.json -o docs/bench.svg

Two panels, one bar per framework and route: the full stack's throughput over the
floor's (target line 0.90) from the ``--floor`` run, and over the pure-ASGI peer's
(target line 2) from the ``--peer`` run; each panel names where its run kept the
items (``--items``/``--database``). The files are what ``bench/run.py --json`` wrote.
"""

from __future__ import annotations

import argparse
import json
from html import escape
from pathlib import Path
from typing import Any

ROUTES = {"health": "GET /health", "read": "item read", "create": "item create"}
COLOURS = {"health": "#9aa5b1", "read": "#1f6feb", "create": "#e3b341"}
PANEL_WIDTH, HEIGHT, MARGIN, TOP = 420, 360, 50, 56
BAR, GAP = 30, 26


def load(path: Path, ratio: str) -> tuple[str, dict[str, dict[str, float]]]:
    """Where the run kept its items, and ``{framework: {route: ratio}}`` for the ratio asked."""
    run: dict[str, Any] = json.loads(path.read_text())
    config = run["config"]
    where = "memory" if config.get("items") == "memory" else config.get("database", "sqlite")
    figures = {
        framework: {
            route: result["ratios"][ratio]
            for route, result in framework_result["routes"].items()
            if ratio in result["ratios"]
        }
        for framework, framework_result in run["results"].items()
    }
    return where, figures


def panel(
    x0: float, title: str, target: float, figures: dict[str, dict[str, float]], top: float
) -> list[str]:
    """One panel's SVG elements: bars grouped by framework, a dashed target line."""
    scale = (HEIGHT - TOP - MARGIN) / top
    base = HEIGHT - MARGIN
    parts = [
        f'<text x="{x0 + PANEL_WIDTH / 2}" y="24" text-anchor="middle" font-size="13">'
        f"{escape(title)}</text>",
        f'<line x1="{x0 + 30}" y1="{base}" x2="{x0 + PANEL_WIDTH - 10}" y2="{base}" '
        'stroke="#333"/>',
    ]
    line_y = base - target * scale
    parts.append(
        f'<line x1="{x0 + 30}" y1="{line_y:.1f}" x2="{x0 + PANEL_WIDTH - 10}" y2="{line_y:.1f}" '
        'stroke="#cf222e" stroke-dasharray="5,4"/>'
    )
    parts.append(
        f'<text x="{x0 + 28}" y="{line_y + 4:.1f}" text-anchor="end" fill="#cf222e">'
        f"{target:g}</text>"
    )
    for index, (framework, routes) in enumerate(figures.items()):
        left = x0 + 40 + index * (len(ROUTES) * BAR + GAP)
        for offset, route in enumerate(ROUTES):
            if route not in routes:
                continue
            value = routes[route]
            height = value * scale
            x = left + offset * BAR
            parts.append(
                f'<rect x="{x}" y="{base - height:.1f}" width="{BAR - 4}" '
                f'height="{height:.1f}" fill="{COLOURS[route]}"/>'
            )
            parts.append(
                f'<text x="{x + (BAR - 4) / 2}" y="{base - height - 4:.1f}" '
                f'text-anchor="middle" font-size="10">{value:.2f}</text>'
            )
        middle = left + len(ROUTES) * BAR / 2
        parts.append(
            f'<text x="{middle}" y="{base + 16}" text-anchor="middle">{escape(framework)}</text>'
        )
    return parts


def svg(floor: tuple[str, dict[str, dict[str, float]]], peer: tuple[str, dict[str, Any]]) -> str:
    panels = [
        (f"full / floor (items: {floor[0]})", 0.9, floor[1]),
        (f"full / pure-ASGI peer (items: {peer[0]})", 2.0, peer[1]),
    ]
    width = PANEL_WIDTH * len(panels)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{HEIGHT}" fill="white"/>',
    ]
    for index, (title, target, figures) in enumerate(panels):
        values = [value for routes in figures.values() for value in routes.values()]
        top = max([target * 1.15, *values]) * 1.08
        parts += panel(index * PANEL_WIDTH, title, target, figures, top)
    for offset, (route, label) in enumerate(ROUTES.items()):
        left = 40 + offset * 130
        parts.append(
            f'<rect x="{left}" y="{HEIGHT - 20}" width="12" height="12" fill="{COLOURS[route]}"/>'
        )
        parts.append(f'<text x="{left + 16}" y="{HEIGHT - 10}">{label}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--floor", type=Path, required=True, help="run.py --json output")
    parser.add_argument(
        "--peer", type=Path, help="another run for the peer panel (default: --floor)"
    )
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    floor = load(args.floor, "full/floor")
    peer = load(args.peer or args.floor, "full/peer")
    args.output.write_text(svg(floor, peer), encoding="utf-8")


if __name__ == "__main__":
    main()
