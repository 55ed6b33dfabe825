"""Walk a tree the way ``grep -R`` does, minus the excluded directories.

``-R`` follows every symlink.  A directory that is its own ancestor (a
symlink loop) is skipped, as grep does ("recursive directory loop");
dangling links and special files (FIFOs, sockets, devices) are skipped too,
since reading a FIFO would block forever.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import sys
from collections.abc import Iterator
from typing import NamedTuple

VCS_DIRS = (".git", ".hg", ".svn", ".bzr", "CVS")
DEFAULT_EXCLUDES = ("releasenotes",)
TEST_DIRS = frozenset({"tests", "test", "functional_tests", "unit_tests"})


class Entry(NamedTuple):
    rel: str  # posix path relative to the walked root
    path: str  # path as reached (through symlinks)


def is_test_path(rel: str) -> bool:
    """Test files: under a tests/ directory, or named test_*.py, *_test.py,
    conftest.py.  Everything else counts as production code."""
    parts = rel.split("/")
    name = parts[-1]
    return bool(TEST_DIRS.intersection(parts[:-1])) or name.startswith("test_") \
        or name.endswith("_test.py") or name == "conftest.py"


def excluded(name: str, excludes: tuple[str, ...]) -> bool:
    return name in VCS_DIRS or any(fnmatch.fnmatchcase(name, glob) for glob in excludes)


def walk(root: str, excludes: tuple[str, ...] = DEFAULT_EXCLUDES,
         errors: list[str] | None = None) -> Iterator[Entry]:
    """Regular files under ``root`` (or ``root`` itself), sorted by name."""
    errors = errors if errors is not None else []
    st = os.stat(root)
    if not stat.S_ISDIR(st.st_mode):
        yield Entry(os.path.basename(root), root)
        return
    yield from _walk_dir(root, "", {(st.st_dev, st.st_ino)}, excludes, errors)


def _walk_dir(path, rel, ancestors, excludes, errors):
    # scandir knows each entry's type from the directory itself, so only
    # symlinks and directories (for loop detection) cost a stat call.
    try:
        with os.scandir(path) as it:
            children = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        errors.append(f"{path}: {exc.strerror}")
        return
    for child in children:
        try:
            st = None
            if child.is_symlink():
                st = os.stat(child.path)  # followed, as grep -R does
                is_dir, is_file = stat.S_ISDIR(st.st_mode), stat.S_ISREG(st.st_mode)
            else:
                is_dir = child.is_dir(follow_symlinks=False)
                is_file = not is_dir and child.is_file(follow_symlinks=False)
            if is_dir:
                if excluded(child.name, excludes):
                    continue
                st = st or os.stat(child.path)
        except OSError as exc:  # dangling symlink, permission, ELOOP
            errors.append(f"{child.path}: {exc.strerror}")
            continue
        if is_dir:
            key = (st.st_dev, st.st_ino)
            if key in ancestors:
                errors.append(f"{child.path}: recursive directory loop, skipped")
                continue
            yield from _walk_dir(child.path, f"{rel}{child.name}/", ancestors | {key}, excludes,
                                 errors)
        elif is_file:
            yield Entry(rel + child.name, child.path)


def read(path: str, limit: int = sys.maxsize) -> bytes | None:
    """The whole file, or None when it holds more than ``limit`` bytes.

    Straight system calls, no file object: most files are read once, whole,
    and Python's buffered layer would cost more than the read itself.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            return None
        data = os.read(fd, size + 1)  # short only at the end of a regular file
        if len(data) <= size:
            return data
        parts = [data]  # it grew while we read
        while chunk := os.read(fd, 1 << 20):
            parts.append(chunk)
        data = b"".join(parts)
        return None if len(data) > limit else data
    finally:
        os.close(fd)


class ModuleNames:
    """Dotted module names from the package layout (``__init__.py`` chains)."""

    def __init__(self):
        self._pkg: dict[str, list[str]] = {}

    def _package_parts(self, directory: str) -> list[str]:
        cached = self._pkg.get(directory)
        if cached is None:
            if os.path.isfile(os.path.join(directory, "__init__.py")):
                parent = os.path.dirname(directory)
                cached = (self._package_parts(parent) if parent != directory else []) \
                    + [os.path.basename(directory)]
            else:
                cached = []
            self._pkg[directory] = cached
        return cached

    def name(self, real_path: str) -> tuple[str, bool]:
        """``(module, is_package)`` of a file's absolute path."""
        directory, base = os.path.split(real_path)
        stem = base[:-3] if base.endswith(".py") else base
        parts = self._package_parts(directory)
        if stem == "__init__":
            return ".".join(parts), True
        return ".".join(parts + [stem]), False
