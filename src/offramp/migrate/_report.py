"""Renderings of trend points: CSV, JSON, Mermaid ``xychart-beta``, PNG/SVG."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import tempfile

_BARE_LABEL = re.compile(r"^[A-Za-z]+-\d+$")  # F-24 stays bare, as published


def to_json(points) -> str:
    return json.dumps([p.as_dict() for p in points], indent=2)


def to_csv(points) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["label", "date", "commit", "lines", "files_importing_production",
                     "files_importing_test", "in_flight"])
    for p in points:
        d = p.as_dict()
        writer.writerow([p.label, d["date"], p.commit, p.lines, p.production, p.test, p.in_flight])
    return out.getvalue()


def countdown_labels(points, release, prefix: str) -> list[str]:
    """``PREFIX-N`` before ``release``, ``PREFIX+N`` after it; named points keep their name.

    Before: N whole weeks are left (F-24 ... F-0, the release week).  After:
    the point lies in the Nth week past the release (F+1 for its first
    seven days), so no two weeks share a label.
    """
    week = 7 * 86400

    def label(p) -> str:
        past = (p.date - release).total_seconds()
        if past <= 0:
            return f"{prefix}-{int(-past // week)}"
        return f"{prefix}+{math.ceil(past / week)}"

    return [p.label if p.named else label(p) for p in points]


def _quote(label: str) -> str:
    return label if _BARE_LABEL.match(label) else '"' + label.replace('"', "'") + '"'


def to_mermaid(points, title: str, x_title: str, y_title: str, labels=None) -> str:
    labels = labels or [p.label for p in points]
    indent = " " * 6
    return "\n".join([
        "```mermaid",
        "xychart-beta",
        f'{indent}title "{title}"',
        f'{indent}x-axis "{x_title}" [{", ".join(_quote(x) for x in labels)}]',
        f'{indent}y-axis "{y_title}"',
        f'{indent}bar "remaining" [{", ".join(str(p.lines) for p in points)}]',
        f'{indent}bar "in flight" [{", ".join(str(p.in_flight) for p in points)}]',
        "```",
    ]) + "\n"


def write_chart(points, path: str, title: str, x_title: str, y_title: str, labels=None) -> None:
    """Grouped bars with matplotlib (Agg), written atomically as PNG or SVG."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in ("png", "svg"):
        raise ValueError(f"invalid --chart {path!r}: the file name must end in .png or .svg")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    labels = labels or [p.label for p in points]
    fig = Figure(figsize=(max(6, len(points) * 0.45), 4.5))
    ax = fig.subplots()
    xs = range(len(points))
    ax.bar([x - 0.2 for x in xs], [p.lines for p in points], 0.4, label="remaining")
    ax.bar([x + 0.2 for x in xs], [p.in_flight for p in points], 0.4, label="in flight")
    ax.set_xticks(list(xs), labels, rotation=60, ha="right", fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(x_title)
    ax.set_ylabel(y_title)
    ax.legend()
    fig.tight_layout()
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".offramp-", suffix="." + ext)
    os.close(fd)
    try:
        fig.savefig(tmp, format=ext)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
