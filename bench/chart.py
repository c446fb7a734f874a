"""Draw the per-framework benchmark results as an SVG bar chart (no plotting library).

    uv run python bench/chart.py fastapi=a.json litestar=b.json quart=c.json -o docs/bench.svg

Each JSON file is what ``bench/run.py --json`` wrote for one framework. The chart
shows bare and full-stack median req/s side by side, with the full/bare ratio,
and the reference app's too when the run had ``--reference``.
"""

from __future__ import annotations

import argparse
import json
from html import escape
from pathlib import Path

WIDTH, HEIGHT, MARGIN = 640, 380, 60
BAR, GAP = 48, 50
COLOURS = {"bare": "#9aa5b1", "full": "#1f6feb", "reference": "#e3b341"}


def load(spec: str) -> tuple[str, dict[str, float]]:
    """``name=path.json`` -> (name, {"bare": rps, "full": rps, ["reference": rps,] "ratio": …})."""
    name, _, path = spec.partition("=")
    summary = json.loads(Path(path).read_text())["summary"]
    figures = {key: summary[key]["median_rps"] for key in COLOURS if key in summary}
    return name, {**figures, "ratio": summary["full"]["median_ratio"]}


def svg(results: list[tuple[str, dict[str, float]]], target: float) -> str:
    top = max(value for _, figures in results for key, value in figures.items() if key != "ratio")
    scale = (HEIGHT - 2 * MARGIN) / top
    base = HEIGHT - MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{WIDTH / 2}" y="24" text-anchor="middle" font-size="14">'
        f"Bare app vs full security stack, req/s (target ratio ≥ {target})</text>",
        f'<line x1="{MARGIN}" y1="{base}" x2="{WIDTH - 20}" y2="{base}" stroke="#333"/>',
    ]
    keys = [key for key in COLOURS if all(key in figures for _, figures in results)]
    for index, (name, figures) in enumerate(results):
        x = MARGIN + index * (len(keys) * BAR + GAP)
        middle = x + len(keys) * BAR / 2
        for offset, key in enumerate(keys):
            height = figures[key] * scale
            left = x + offset * BAR
            parts.append(
                f'<rect x="{left}" y="{base - height:.1f}" width="{BAR - 6}" '
                f'height="{height:.1f}" fill="{COLOURS[key]}"/>'
            )
            parts.append(
                f'<text x="{left + (BAR - 6) / 2}" y="{base - height - 4:.1f}" '
                f'text-anchor="middle">{figures[key]:,.0f}</text>'
            )
        parts.append(
            f'<text x="{middle}" y="{base + 18}" text-anchor="middle">{escape(name)}</text>'
        )
        parts.append(
            f'<text x="{middle}" y="{base + 34}" text-anchor="middle" font-weight="bold">'
            f"full/bare {figures['ratio']:.2f}</text>"
        )
    legend_y = HEIGHT - 8
    for offset, key in enumerate(keys):
        left = WIDTH - 110 * len(keys) + offset * 110
        parts.append(
            f'<rect x="{left}" y="{legend_y - 10}" width="12" height="12" fill="{COLOURS[key]}"/>'
        )
        parts.append(f'<text x="{left + 16}" y="{legend_y}">{key} req/s</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="framework=results.json")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--target", type=float, default=0.85)
    args = parser.parse_args()
    args.output.write_text(svg([load(spec) for spec in args.results], args.target))


if __name__ == "__main__":
    main()
