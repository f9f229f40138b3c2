"""Results as rows: printed as one table and written as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

Value = float | int | str | bool | None


@dataclass
class Row:
    case: str
    metric: str
    value: Value
    unit: str = ""
    note: str = ""


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def add(self, case: str, metric: str, value: Value, unit: str = "", note: str = "") -> None:
        self.rows.append(Row(case, metric, value, unit, note))

    def extend(self, other: Section) -> None:
        self.rows.extend(other.rows)
        self.notes.extend(other.notes)
        self.figures.update(other.figures)


def ms(seconds: float) -> float:
    return seconds * 1000.0


def per_second(count: float, seconds: float) -> float | None:
    return count / seconds if seconds > 0 else None


def format_value(value: Value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return _format_float(value)
    return str(value)


def _format_float(value: float) -> str:
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def render_table(sections: list[Section]) -> str:
    lines: list[str] = []
    for section in sections:
        lines.extend(_section_lines(section))
    return "\n".join(lines)


def _section_lines(section: Section) -> list[str]:
    cells = [(r.case, r.metric, format_value(r.value), r.unit, r.note) for r in section.rows] or [
        ("", "(no rows)", "", "", "")
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    out = ["", f"== {section.title} " + "=" * max(0, 96 - len(section.title))]
    for case, metric, value, unit, note in cells:
        line = (
            f"{case:<{widths[0]}}  {metric:<{widths[1]}}  {value:>{widths[2]}} {unit:<{widths[3]}}"
        )
        out.append(f"{line}  {note}".rstrip())
    out.extend(f"  * {note}" for note in section.notes)
    return out


def write_json(path: Path, meta: dict[str, Any], sections: list[Section]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"meta": meta, "sections": [asdict(s) for s in sections]}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


def merge_json(path: Path, meta: dict[str, Any], by_part: dict[str, list[Section]]) -> None:
    """Replaces the figures of the parts just run in `path`, keeping the other parts' figures
    (each part with the meta of the run that measured it)."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        payload = {}
    parts = payload.get("parts", {})
    for part, sections in by_part.items():
        parts[part] = {"meta": meta, "sections": [asdict(s) for s in sections]}
    payload["parts"] = dict(sorted(parts.items()))
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
