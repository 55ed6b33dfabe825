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
from collections.abc import Iterator
from dataclasses import dataclass

VCS_DIRS = (".git", ".hg", ".svn", ".bzr", "CVS")
DEFAULT_EXCLUDES = ("releasenotes",)
TEST_DIRS = frozenset({"tests", "test", "functional_tests", "unit_tests"})


@dataclass(frozen=True)
class Entry:
    rel: str  # posix path relative to the walked root
    path: str  # path as reached (through symlinks)
    size: int


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
        yield Entry(os.path.basename(root), root, st.st_size)
        return
    yield from _walk_dir(root, "", {(st.st_dev, st.st_ino)}, excludes, errors)


def _walk_dir(path, rel, ancestors, excludes, errors):
    try:
        names = sorted(os.listdir(path))
    except OSError as exc:
        errors.append(f"{path}: {exc.strerror}")
        return
    for name in names:
        child, child_rel = os.path.join(path, name), f"{rel}{name}"
        try:
            st = os.stat(child)
        except OSError as exc:  # dangling symlink, permission, ELOOP
            errors.append(f"{child}: {exc.strerror}")
            continue
        if stat.S_ISDIR(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if excluded(name, excludes):
                continue
            if key in ancestors:
                errors.append(f"{child}: recursive directory loop, skipped")
                continue
            yield from _walk_dir(child, child_rel + "/", ancestors | {key}, excludes, errors)
        elif stat.S_ISREG(st.st_mode):
            yield Entry(child_rel, child, st.st_size)
