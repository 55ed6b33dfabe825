"""Fixtures for the migration tooling: real grep, real git, fixed dates."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from offramp._cli import main
from offramp.migrate._grep import utf8_locale

HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """The migration tooling reads and rewrites source; it never asks the
    concurrency mode.  Every test in this directory is mode_independent, so
    `make test` runs it once, not once per mode."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.mode_independent)


@pytest.fixture(autouse=True)
def analysis_cache_dir(tmp_path_factory, monkeypatch):
    """Each test gets its own analysis cache: none reads the user's, or
    another test's."""
    path = tmp_path_factory.mktemp("offramp-cache")
    monkeypatch.setenv("OFFRAMP_CACHE_DIR", str(path))
    monkeypatch.delenv("OFFRAMP_NO_CACHE", raising=False)
    return path


VCS_EXCLUDES = ["--exclude-dir=.git", "--exclude-dir=.hg", "--exclude-dir=.svn",
                "--exclude-dir=.bzr", "--exclude-dir=CVS"]


def real_grep(path: str, locale: str | None = None, excludes=("releasenotes",)) -> int:
    """``grep -R -i eventlet | wc -l`` as the spec states it, run for real.

    By default in a locale of the same kind (UTF-8 or not) as this process,
    which is what ``scan`` follows.
    """
    if locale is None:
        locale = "C.UTF-8" if utf8_locale() else "C"
    cmd = ["grep", "-R", "-i", "eventlet", *VCS_EXCLUDES,
           *(f"--exclude-dir={e}" for e in excludes), "."]
    env = dict(os.environ, LC_ALL=locale)
    out = subprocess.run(cmd, cwd=path, capture_output=True, env=env).stdout
    return out.count(b"\n")


def offramp(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """Run the CLI in this process (a child would pay the import time again)."""
    out, err = io.StringIO(), io.StringIO()
    before = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse errors
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.chdir(before)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def offramp_process(*args: str) -> subprocess.CompletedProcess:
    """``python -m offramp``, for what only a real process shows."""
    return subprocess.run([sys.executable, "-m", "offramp", *args], capture_output=True,
                          text=True)


class Repo:
    """A throwaway git repository whose commits carry the dates we give."""

    def __init__(self, path) -> None:
        self.path = str(path)
        os.makedirs(self.path, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, date: str = "2025-01-01T12:00:00+00:00") -> str:
        env = dict(os.environ, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date,
                   GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com",
                   GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
        return subprocess.run(["git", "-C", self.path, *args], check=True, env=env,
                              capture_output=True, text=True).stdout.strip()

    def write(self, files: dict[str, str | bytes | None]) -> None:
        for rel, content in files.items():
            path = os.path.join(self.path, rel)
            if content is None:
                os.unlink(path)
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(content.encode() if isinstance(content, str) else content)

    def commit(self, date: str, files: dict, message: str = "change") -> str:
        self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, date=f"{date}T12:00:00+00:00")
        return self.git("rev-parse", "HEAD")

    def grep_at(self, commit: str, tmp) -> int:
        """Real grep on an export of ``commit`` (a clean checkout, no .git)."""
        dest = os.path.join(str(tmp), f"export-{commit[:12]}")
        if os.path.exists(dest):
            shutil.rmtree(dest)
        os.makedirs(dest)
        archive = subprocess.run(["git", "-C", self.path, "archive", commit],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
        return real_grep(dest)


@pytest.fixture
def repo(tmp_path):
    return Repo(tmp_path / "repo")
