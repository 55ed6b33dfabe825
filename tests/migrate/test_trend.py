"""``offramp trend`` on a small repository with a known history."""

import csv
import os
import io
import json

import pytest

from offramp.migrate import trend as trend_module
from offramp.migrate.trend import trend

from .conftest import offramp, offramp_process

A_PY = ("import eventlet\n\n\ndef f():\n    eventlet.sleep(1)\n    eventlet.spawn(f)\n"
        "    x = eventlet.Event()\n")  # 4 lines
B_PY = ("from eventlet import greenthread\n# eventlet 1\n# eventlet 2\n# eventlet 3\n"
        "# eventlet 4\n")  # 5 lines


@pytest.fixture
def history(repo):
    """main: 7 -> 12 -> 10 -> 10 -> 7 lines; three side refs."""
    c = {}
    c["init"] = repo.commit("2025-03-25", {
        "nova/a.py": A_PY,
        "nova/tests/test_a.py": "import eventlet\neventlet.sleep(0)\n",
        "README": "Uses Eventlet\n",
        "releasenotes/notes/n.yaml": "eventlet\n",
    })
    repo.git("tag", "v0")
    c["b"] = repo.commit("2025-04-02", {"nova/b.py": B_PY})
    repo.git("tag", "-a", "-m", "v1", "v1", date="2025-04-02T13:00:00+00:00")
    repo.git("checkout", "-q", "-b", "feature")
    c["feature"] = repo.commit("2025-04-05", {"nova/b.py": B_PY.split("# eventlet 2")[0]})  # -3
    repo.git("checkout", "-q", "main")
    c["trim"] = repo.commit("2025-04-10", {"nova/a.py": A_PY.rsplit("    eventlet.spawn", 1)[0]})
    repo.git("checkout", "-q", "-b", "review")
    c["review"] = repo.commit("2025-04-12", {"nova/a.py": "import eventlet\n\n\ndef f():\n    pass\n"})
    repo.git("checkout", "-q", "-b", "adder", "main")
    c["adder"] = repo.commit("2025-04-13", {"nova/c.py": "# eventlet\n# eventlet\n"})
    repo.git("checkout", "-q", "main")
    c["binary"] = repo.commit("2025-04-16", {"data.bin": b"eventlet\x00eventlet\n"})
    repo.git("merge", "-q", "--no-ff", "-m", "merge feature", "feature",
             date="2025-04-20T12:00:00+00:00")
    c["merge"] = repo.git("rev-parse", "HEAD")
    return c


def test_points_counts_and_in_flight(repo, history, tmp_path):
    points, counter = trend(repo.path, every="7d", since="2025-04-01", until="2025-04-22",
                            refs=["feature", "review", "adder"], utf8=True)
    got = [(p.label, p.commit, p.lines, p.production, p.test, p.in_flight_refs) for p in points]
    assert got == [
        ("2025-04-01", history["init"], 7, 1, 1, {"feature": 0, "review": 0, "adder": 0}),
        ("2025-04-08", history["b"], 12, 2, 1, {"feature": 3, "review": 0, "adder": 0}),
        ("2025-04-15", history["trim"], 10, 2, 1, {"feature": 3, "review": 1, "adder": 0}),
        ("2025-04-22", history["merge"], 7, 2, 1, {"feature": 0, "review": 1, "adder": 0}),
    ]
    assert [p.in_flight for p in points] == [0, 3, 4, 1]
    # Each count equals the real grep on a clean export of that commit.
    for p in points:
        assert p.lines == repo.grep_at(p.commit, tmp_path)
    # Incremental: every blob was read once, however many trees share it.
    involved = {p.commit for p in points} | {history[k] for k in ("feature", "review", "adder",
                                                                  "b", "trim")}
    blobs = set()
    for commit in involved:
        for line in repo.git("ls-tree", "-r", commit).splitlines():
            mode, kind, sha, path = line.split(None, 3)
            if not path.startswith("releasenotes/"):
                blobs.add(sha)
    assert counter.blob_reads == len(blobs)


def test_at_dates_and_tags(repo, history):
    points, _ = trend(repo.path, at="2025-03-24,2025-04-05,Late=2025-05-01", utf8=True)
    # Before the first commit there is nothing to count: no point.
    assert [(p.label, p.commit, p.lines) for p in points] == [
        ("2025-04-05", history["b"], 12), ("Late", history["merge"], 7)]
    points, _ = trend(repo.path, tags="*", utf8=True)
    assert [(p.label, p.commit, p.lines) for p in points] == [
        ("v0", history["init"], 7), ("v1", history["b"], 12)]
    points, _ = trend(repo.path, tags="v1", utf8=True)
    assert [p.label for p in points] == ["v1"]


def test_day_boundary_is_end_of_day_utc(repo, history):
    points, _ = trend(repo.path, at="2025-04-01,2025-04-02,2025-04-02T11:59:59+00:00", utf8=True)
    # Points come out in date order: 04-01 23:59:59, 04-02 11:59:59, 04-02 23:59:59.
    assert [p.commit for p in points] == [history["init"], history["init"], history["b"]]


MERMAID = '''\
```mermaid
xychart-beta
      title "Eventlet references and in-flight removals in the Nova repo"
      x-axis "Weeks left from Flamingo" ["Epoxy", F-4, F-3, F-2]
      y-axis "Remaining references and in-flight removals"
      bar "remaining" [7, 12, 10, 7]
      bar "in flight" [0, 3, 4, 1]
```
'''


def test_cli_mermaid_json_csv_chart(repo, history, tmp_path):
    common = [repo.path, "--at", "Epoxy=2025-04-01", "--every", "1w", "--since", "2025-04-08",
              "--until", "2025-04-22", "--in-flight", "feature", "--in-flight", "rev*"]
    out = offramp("trend", *common, "--mermaid", "--name", "Nova", "--countdown", "2025-05-06:F",
                  "--x-title", "Weeks left from Flamingo")
    assert out.returncode == 0, out.stderr
    assert out.stdout == MERMAID
    data = json.loads(offramp("trend", *common, "--json").stdout)
    assert [(d["date"], d["lines"], d["in_flight"]) for d in data] == [
        ("2025-04-01", 7, 0), ("2025-04-08", 12, 3), ("2025-04-15", 10, 4), ("2025-04-22", 7, 1)]
    assert data[1]["commit"] == history["b"]
    assert data[1]["files_importing"] == {"production": 2, "test": 1}
    assert data[2]["in_flight_refs"] == {"feature": 3, "refs/heads/review": 1}
    rows = list(csv.DictReader(io.StringIO(offramp("trend", *common, "--csv").stdout)))
    assert [(r["date"], r["lines"], r["in_flight"]) for r in rows] == [
        (d["date"], str(d["lines"]), str(d["in_flight"])) for d in data]
    for ext, magic in (("png", b"\x89PNG"), ("svg", b"<?xml")):
        chart = tmp_path / f"chart.{ext}"
        done = offramp("trend", *common, "--json", "--chart", str(chart))
        assert done.returncode == 0, done.stderr
        assert chart.read_bytes().startswith(magic)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".offramp-")]


@pytest.mark.parametrize("args,needle", [
    (["--every", "7x"], "invalid --every '7x'"),
    (["--every", "0d"], "invalid --every '0d'"),
    (["--since", "2025-02-30", "--every", "7d"], "invalid --since '2025-02-30'"),
    (["--at", "tomorrow"], "invalid --at date 'tomorrow'"),
    (["--since", "2025-06-01", "--until", "2025-05-01", "--every", "7d"], "after the end"),
    (["--in-flight", "no-such-branch"], "'no-such-branch' is not a ref"),
    (["--in-flight", "zzz*"], "'zzz*' matches no refs"),
    (["--branch", "nope"], "nope"),
    (["--chart", "out.gif"], "must end in .png or .svg"),
    (["--countdown", "2025-05-01"], "expected DATE:PREFIX"),
])
def test_bad_input_names_the_value(repo, history, tmp_path, args, needle):
    out = offramp("trend", repo.path, *args, cwd=tmp_path)
    assert out.returncode == 2
    assert needle in out.stderr


def test_not_a_repository(tmp_path):
    out = offramp("trend", str(tmp_path))
    assert out.returncode == 2 and f"not a git repository: {tmp_path}" in out.stderr
    out = offramp("trend", str(tmp_path / "missing"))
    assert out.returncode == 2 and "missing" in out.stderr


def test_parsers():
    assert trend_module.parse_every("2w").days == 14
    assert trend_module.parse_date("2025-04-14").isoformat() == "2025-04-14T23:59:59+00:00"
    with pytest.raises(ValueError, match="expected a positive number"):
        trend_module.parse_every("weekly")


def test_trend_agrees_with_scan_of_a_checkout(repo, history, tmp_path):
    from offramp.migrate.scan import scan

    points, _ = trend(repo.path, at="2025-04-30", utf8=True)
    result = scan(repo.path, utf8=True)  # the working tree is the merge commit
    assert points[0].commit == history["merge"]
    assert (points[0].lines, points[0].production, points[0].test) == \
        (result.lines, len(result.production), len(result.test)) == (7, 2, 1)


def test_cli_lists_the_migration_subcommands():
    out = offramp_process("--help")  # also proves `python -m offramp` works
    for name in ("scan", "trend", "lint", "rewrite"):
        assert name in out.stdout


def test_default_range_is_weekly_up_to_the_tip(repo, history):
    points, _ = trend(repo.path, utf8=True)
    # From the first commit's day (less than a year back) to the tip's day.
    assert [p.label for p in points] == ["2025-03-25", "2025-04-01", "2025-04-08", "2025-04-15"]
    assert [p.lines for p in points] == [7, 7, 12, 10]


def test_symlinks_are_followed_like_grep(repo, tmp_path):
    files = {
        "pkg/a.py": "import eventlet\neventlet.sleep(1)\n",
        "pkg/sub/b.txt": "eventlet\n",
        "other/c.txt": "eventlet\neventlet\n",
        "releasenotes/n.txt": "eventlet\n",
    }
    repo.write(files)
    links = {
        "pkg/alias.py": "a.py",  # file link: counted again, and imports
        "pkg/up": "..",  # loop to the root: skipped
        "pkg/self": ".",  # loop to itself: skipped
        "pkg/dangling": "missing.txt",
        "pkg/outside": "../../outside.txt",  # leaves the tree: skipped
        "pkg/other": "../other",  # directory link: walked
        "other/deep": "../pkg/sub",  # reached directly and through pkg/other
        "pkg/notes": "../releasenotes/n.txt",  # a file link into an excluded dir counts
    }
    for link, target in links.items():
        os.symlink(target, os.path.join(repo.path, link))
    sha = repo.commit("2025-05-01", {})
    points, _ = trend(repo.path, at="2025-05-01", utf8=True)
    expected = repo.grep_at(sha, tmp_path)
    # a.py 2 + alias 2 + b.txt 1 + c.txt 2 + via pkg/other 3 + other/deep 1 + notes 1
    assert (points[0].lines, points[0].production) == (expected, 2) == (12, 2)
    from offramp.migrate.scan import scan

    assert scan(repo.path, utf8=True).lines == expected  # the checkout agrees too


def test_blob_counts_are_kept_between_runs(repo, history, tmp_path, analysis_cache_dir):
    from offramp.migrate._cache import Cache

    args = dict(every="7d", since="2025-04-01", until="2025-04-22", refs=["feature"], utf8=True)
    first, counter = trend(repo.path, **args, cache=Cache(str(tmp_path / "c")))
    assert counter.blob_reads > 0
    again, counter = trend(repo.path, **args, cache=Cache(str(tmp_path / "c")))
    assert counter.blob_reads == 0 and again == first
    # Counted as grep does in the other locale: a table of its own.
    _, counter = trend(repo.path, **{**args, "utf8": False}, cache=Cache(str(tmp_path / "c")))
    assert counter.blob_reads > 0
    # The CLI keeps them in the user's cache unless told not to.
    assert offramp("trend", repo.path, "--json", "--no-cache").returncode == 0
    assert os.listdir(analysis_cache_dir) == []
    assert offramp("trend", repo.path, "--json").returncode == 0
    assert os.listdir(analysis_cache_dir) != []
