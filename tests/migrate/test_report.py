"""``offramp report``: the post's numbers are trend's, scan's and services' numbers."""

import os
import re
import subprocess
import sys
from collections import Counter

import pytest

from offramp.migrate.scan import scan
from offramp.migrate.services import services
from offramp.migrate.trend import trend

from .test_services import FILES, SETUP_CFG

DATES = ("2025-03-03", "2025-03-10", "2025-03-17", "2025-03-24")


@pytest.fixture
def history(repo):
    """A project losing eventlet week by week, and a review removing more."""
    c = {"start": repo.commit("2025-03-03", {**FILES, "setup.cfg": SETUP_CFG,
                                             "README": "Runs on Eventlet for now.\n"})}
    c["utils"] = repo.commit("2025-03-10", {
        "proj/utils.py": "from proj import service  # noqa\nPOOL = None\n"})
    c["patching"] = repo.commit("2025-03-17", {"proj/patching.py": "def patch():\n    pass\n"})
    repo.git("checkout", "-q", "-b", "review")
    c["review"] = repo.commit("2025-03-18", {
        "proj/api/manager.py": "class ApiManager:\n    pass\n"})
    repo.git("checkout", "-q", "main")
    c["docs"] = repo.commit("2025-03-24", {"README": "Leaving eventlet.\n"})
    # The checkout is elsewhere: the post describes main's commits, read from git.
    repo.git("checkout", "-q", "review")
    return c


def export(repo, commit, dest):
    os.makedirs(dest)
    archive = subprocess.run(["git", "-C", repo.path, "archive", commit], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return str(dest)


def first_table(text, heading):
    """The rows of the first Markdown table after ``heading``."""
    section = text[text.index(heading):].split("\n\n")
    block = next(part for part in section if part.startswith("| "))
    return [[c.strip() for c in line.strip().strip("|").split(" | ")]
            for line in block.splitlines()[2:]]


def test_post_numbers_equal_trend_scan_and_services(repo, history, tmp_path):
    out_path = tmp_path / "out" / "status.md"
    out_path.parent.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "offramp", "report", repo.path, "--branch", "main",
         "--every", "7d", "--since", DATES[0], "--until", DATES[-1], "--in-flight", "review",
         "--countdown", "2025-04-14:X", "--name", "Proj", "-o", str(out_path)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    post = out_path.read_text()
    chart = tmp_path / "out" / "status-trend.png"
    assert done.stdout.splitlines() == [f"wrote {out_path}", f"wrote {chart}"]
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert "![Eventlet references and in-flight removals in the Proj repo](status-trend.png)" \
        in post

    points, _ = trend(repo.path, "main", every="7d", since=DATES[0], until=DATES[-1],
                      refs=["review"])
    assert [p.commit for p in points] == [
        history[k] for k in ("start", "utils", "patching", "docs")]
    lines = [p.lines for p in points]
    flights = [p.in_flight for p in points]
    assert flights[-1] > 0 and lines[0] > lines[-1]  # the history really moves

    # The chart, as Mermaid: trend's points, labelled by the countdown.
    assert f'bar "remaining" [{", ".join(map(str, lines))}]' in post
    assert f'bar "in flight" [{", ".join(map(str, flights))}]' in post
    assert 'x-axis "Weeks left to X" [X-6, X-5, X-4, X-3]' in post
    # The counts table, point by point.
    assert first_table(post, "## Counts") == [
        [label, p.date.date().isoformat(), f"`{p.commit[:12]}`", str(p.lines),
         str(p.in_flight), f"{p.production} / {p.test}"]
        for label, p in zip(["X-6", "X-5", "X-4", "X-3"], points)]

    # The headline: the last point, which is scan (and grep) of its tree.
    tree = export(repo, points[-1].commit, tmp_path / "tree")
    result = scan(tree)
    assert result.lines == lines[-1] == repo.grep_at(points[-1].commit, tmp_path)
    assert (f"As of 2025-03-24 (commit `{points[-1].commit[:12]}`), {lines[-1]} references to "
            f"Eventlet remain in the Proj repo, and changes in flight remove {flights[-1]} "
            f"more. 3 weeks are left before X (2025-04-14).") in post
    assert f"$ grep --exclude-dir=releasenotes -i eventlet -R | wc -l\n{lines[-1]}\n" in post

    # Usages by kind: scan's, with its suggestions.
    kinds = Counter(u.kind for u in result.usages)
    suggestion = {u.kind: u.suggestion for u in result.usages}
    rows = first_table(post, "## Usages by kind")
    assert {r[0]: int(r[1]) for r in rows} == dict(kinds)
    assert all(r[3] == suggestion[r[0]] for r in rows)
    assert (f"{len(result.usages)} usages in all; {len(result.production)} production and "
            f"{len(result.test)} test files import eventlet.") in post

    # Per-service readiness: services' verdicts on the same tree.
    report = services(tree)
    rows = first_table(post, "## Services")
    assert [[r[0], r[2], r[3], r[4], r[5]] for r in rows] == [
        [s.entry_point.name, str(len(s.modules)), str(sum(bool(m.string_edges)
                                                          for m in s.modules)),
         str(s.usages), "ready" if s.ready else "eventlet"] for s in report.services]
    assert [r[0] for r in rows] == ["proj-api", "proj-worker", "proj-wsgi"]
    ready = sum(s.ready for s in report.services)
    assert f"{ready} of 3 entry points load no module that uses eventlet" in post
    assert "* **proj-api** loads by name `proj.api.manager` (1, from `proj/service.py:6`)." \
        in post


def test_report_without_services_and_bad_input(repo, tmp_path):
    repo.commit("2025-03-03", {"a.py": "import eventlet\n"})
    out = tmp_path / "post.md"
    done = subprocess.run([sys.executable, "-m", "offramp", "report", repo.path, "--at",
                           "2025-03-03", "-o", str(out), "--no-chart"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    post = out.read_text()
    assert "No services to check:" in post and "no console_scripts" in post
    assert "(changes in flight were not counted: no --in-flight refs were given)" in post
    assert not (tmp_path / "post-trend.png").exists()
    bad = subprocess.run([sys.executable, "-m", "offramp", "report", repo.path, "-o",
                          str(tmp_path / "post.txt")], capture_output=True, text=True)
    assert bad.returncode == 2 and "must end in .md" in bad.stderr
    early = subprocess.run([sys.executable, "-m", "offramp", "report", repo.path, "--at",
                            "2025-01-01", "-o", str(tmp_path / "early.md")],
                           capture_output=True, text=True)
    assert early.returncode == 1 and "the history covers 2025-03-03" in early.stderr
    assert not (tmp_path / "early.md").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".offramp-")]
    assert re.search(r"^---\ntitle: Eventlet removal - 2025-03-03\n", post)
