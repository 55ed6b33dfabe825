"""``offramp report``: the weekly status post, written from the repository.

One Markdown post in the shape of the posts nova's team wrote by hand
while leaving eventlet: how many references remain and how many are in
flight, the trend as a Mermaid ``xychart-beta`` block and as a PNG, which
services are free of eventlet, and the usages by kind with their
replacements.  Every number comes from ``trend`` (the points) and from
``scan`` and ``services`` run on the tree of the last point's commit,
exported from git, so the post describes one commit whatever is checked
out.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import subprocess
import tarfile
import tempfile
from collections import Counter
from dataclasses import dataclass, field

from offramp.migrate import _report, trend as trend_module
from offramp.migrate._git import GitError
from offramp.migrate._project import ProjectError
from offramp.migrate.scan import ScanResult, scan
from offramp.migrate.services import ServicesReport, services

__all__ = ["StatusPost", "gather", "markdown", "write"]


@dataclass
class StatusPost:
    name: str
    points: list  # trend points, oldest first
    labels: list[str]
    scan: ScanResult  # of the last point's commit
    services: ServicesReport | None
    services_note: str | None  # why there is no services section
    title: str
    x_title: str
    y_title: str
    countdown: tuple[dt.datetime, str] | None = None
    refs: list[str] = field(default_factory=list)  # the --in-flight refs asked for
    command: list[str] = field(default_factory=list)

    @property
    def last(self):
        return self.points[-1]


def export(repo: str, commit: str, dest: str) -> str:
    """The tree of ``commit`` as files under ``dest`` (``git archive``, no checkout)."""
    proc = subprocess.Popen(["git", "-C", repo, "archive", "--format=tar", commit],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        tar.extractall(dest, filter="data")
    err = proc.stderr.read().decode(errors="replace").strip()
    if proc.wait() != 0:
        raise GitError(f"git archive {commit}: {err}")
    return dest


def gather(repo: str, name: str | None = None, branch: str = "HEAD", every: str | None = None,
           since: str | None = None, until: str | None = None, at: str | None = None,
           tags: str | None = None, refs: list[str] | None = None,
           countdown: tuple[dt.datetime, str] | None = None, modules: list[str] | None = None,
           title: str | None = None, x_title: str | None = None,
           y_title: str = "Remaining references and in-flight removals",
           excludes=None, progress=None) -> StatusPost:
    """Trend points, then scan and services on the last point's tree."""
    kwargs = {"excludes": excludes} if excludes is not None else {}
    points, _ = trend_module.trend(repo, branch, every, since, until, at, tags, refs or [],
                                   progress=progress, **kwargs)
    name = name or os.path.basename(os.path.abspath(repo))
    labels = _report.countdown_labels(points, *countdown) if countdown else \
        [p.label for p in points]
    with tempfile.TemporaryDirectory(prefix="offramp-report-") as tmp:
        tree = export(repo, points[-1].commit, tmp)
        result = scan(tree, **kwargs)
        report, note = None, None
        try:
            report = services(tree, modules)
        except ProjectError as exc:
            note = str(exc).replace(tree, "the tree")
    return StatusPost(
        name, points, labels, result, report, note,
        title or f"Eventlet references and in-flight removals in the {name} repo",
        x_title or (f"Weeks left to {countdown[1]}" if countdown else "Date"), y_title,
        countdown, list(refs or []))


def _table(columns: list[str], rows: list[list[object]], right: tuple[str, ...] = ()) -> str:
    def cell(value) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    align = ["---:" if c in right else "---" for c in columns]
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _services_section(post: StatusPost) -> list[str]:
    out = ["## Services", ""]
    if post.services is None:
        return out + [f"No services to check: {post.services_note}", ""]
    report = post.services
    known = [s for s in report.services if s.in_project]
    ready = [s for s in known if s.ready]
    out += [f"{len(ready)} of {len(known)} entry points load no module that uses eventlet "
            f"(`offramp services`: imports, parent packages and string edges).", ""]
    rows = []
    for s in report.services:
        ep = s.entry_point
        if not s.in_project:
            rows.append([ep.name, f"`{ep.target}`", "-", "-", "-", "outside the project"])
            continue
        by_strings = sum(bool(m.string_edges) for m in s.modules)
        rows.append([ep.name, f"`{ep.target}`", len(s.modules), by_strings, s.usages,
                     "ready" if s.ready else "eventlet"])
    out.append(_table(["service", "entry point", "modules using eventlet",
                       "only through string edges", "usages", "status"], rows,
                      right=("modules using eventlet", "only through string edges", "usages")))
    blocked = [s for s in known if not s.ready]
    if blocked:
        out += ["What still keeps each service on eventlet, with each module's usages "
                "(`offramp services` prints the chains):", ""]
        for s in blocked:
            static = [f"`{m.module}` ({m.usages})" for m in s.modules if not m.string_edges]
            loaded = [f"`{m.module}` ({m.usages}, from {_first_string_hop(m)})"
                      for m in s.modules if m.string_edges]
            parts = ([f"imports {', '.join(static)}"] if static else []) + \
                ([f"loads by name {', '.join(loaded)}"] if loaded else [])
            out.append(f"* **{s.entry_point.name}** {'; '.join(parts)}.")
        out.append("")
    return out


def _first_string_hop(module_use) -> str:
    hop = next(h for h in module_use.chain if h.kind == "string")
    return f"`{hop.where}`"


def markdown(post: StatusPost, chart_file: str | None = None) -> str:
    last, label = post.last, post.labels[-1]
    when = last.date.strftime("%Y-%m-%d %H:%M:%S %z")
    lead = (f"As of {last.date.date()} (commit `{last.commit[:12]}`), {last.lines} references "
            f"to Eventlet remain in the {post.name} repo")
    if post.refs:
        lead += f", and changes in flight remove {last.in_flight} more."
    else:
        lead += " (changes in flight were not counted: no --in-flight refs were given)."
    if post.countdown:
        release, prefix = post.countdown
        weeks = (release - last.date).days // 7
        if weeks >= 0:
            lead += f" {weeks} weeks are left before {prefix} ({release.date()})."
    out = ["---", f"title: Eventlet removal - {label}", f"date: {when}",
           "categories: [Eventlet]", f"tags: [eventlet, {post.name.lower()}]", "mermaid: true",
           "---", lead, "",
           "```console", "$ grep --exclude-dir=releasenotes -i eventlet -R | wc -l",
           str(last.lines), "```", "",
           _report.to_mermaid(post.points, post.title, post.x_title, post.y_title, post.labels)]
    if chart_file:
        out += [f"![{post.title}]({chart_file})", ""]
    out += ["## Counts", ""]
    rows = [[lbl, p.date.date(), f"`{p.commit[:12]}`", p.lines, p.in_flight,
             f"{p.production} / {p.test}"] for lbl, p in zip(post.labels, post.points)]
    out.append(_table(["point", "date", "commit", "remaining", "in flight",
                       "files importing eventlet (production / test)"], rows,
                      right=("remaining", "in flight")))
    flights = {ref: n for ref, n in last.in_flight_refs.items() if n}
    if flights:
        out += ["In flight at the last point: " + ", ".join(
            f"`{ref}` {n}" for ref, n in sorted(flights.items(), key=lambda kv: -kv[1])) + ".",
            ""]
    out += _services_section(post)
    out += ["## Usages by kind", ""]
    by_kind = Counter(u.kind for u in post.scan.usages)
    first = {}
    for u in post.scan.usages:
        first.setdefault(u.kind, u)
    out.append(_table(["kind", "usages", "category", "suggested replacement"],
                      [[k, n, first[k].category, first[k].suggestion]
                       for k, n in sorted(by_kind.items(), key=lambda kv: (-kv[1], kv[0]))],
                      right=("usages",)))
    out.append(f"{len(post.scan.usages)} usages in all; {len(post.scan.production)} production "
               f"and {len(post.scan.test)} test files import eventlet.\n")
    if post.command:
        out += ["This post was written by:", "", "```console",
                "$ " + " ".join(shlex.quote(a) for a in post.command), "```", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def write(post: StatusPost, path: str, chart: bool = True) -> list[str]:
    """The post at ``path`` and its PNG chart beside it, each written atomically."""
    if not path.endswith(".md"):
        raise ValueError(f"invalid --output {path!r}: the file name must end in .md")
    written = []
    chart_name = None
    if chart:
        chart_path = path[:-3] + "-trend.png"
        _report.write_chart(post.points, chart_path, post.title, post.x_title, post.y_title,
                            post.labels)
        chart_name = os.path.basename(chart_path)
        written.append(chart_path)
    text = markdown(post, chart_name)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".offramp-", suffix=".md")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return [path] + written
