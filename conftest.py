"""Every Python block of the Markdown docs runs in the suite, in its mode.

Sybil collects the fenced blocks of README.md, docs/*.md and
cellsched/README.md (they are in pyproject's testpaths). A block whose
language is ``python`` (or ``py``, ``python3``) runs as a program of its
own (``python example.py`` in a scratch directory) with the session's
OFFRAMP_CONCURRENCY, the way a reader would run it: each example is an entry point that calls
``offramp.bootstrap()`` first, so none can share a process with pytest.

Options after the language, e.g. ```` ```python continuation ````:

- ``continuation``: the block continues the previous Python block of the
  same file, which runs again in front of it;
- ``needs-services``: the block talks to the local PostgreSQL, MariaDB
  or RabbitMQ; it is skipped when they are down, except under CI=true,
  where that fails.

Any other option fails the block: nothing is skipped quietly. Output and
shell belong in ``text``, ``console`` or ``sh`` blocks, which are not run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import textwrap

import pytest
from sybil import Sybil
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer

LANGUAGES = ("python", "python3", "py")
OPTIONS = ("continuation", "needs-services")
SERVICES = {"PostgreSQL": ("127.0.0.1", 5432), "MariaDB": ("127.0.0.1", 3306),
            "RabbitMQ": ("127.0.0.1", 5672)}
BLOCK_TIMEOUT = 120


class PythonBlocks:
    """Sybil parser: one example per Python block, run as its own program."""

    lexer = FencedCodeBlockLexer(
        language=r"[^\n]*", mapping={"language": "info", "source": "source"})

    def __call__(self, document):
        previous = None
        for region in self.lexer(document):
            words = region.lexemes["info"].split()
            if not words or words[0].lower() not in LANGUAGES:
                continue
            options = words[1:]
            source = textwrap.dedent(str(region.lexemes["source"]))
            line = document.text.count("\n", 0, region.start) + 1
            block = Block(document.path, line, source, options,
                          previous if "continuation" in options else None)
            previous = block
            region.parsed = block
            region.evaluator = run_block
            yield region


class Block:
    def __init__(self, path, line, source, options, previous):
        self.path, self.line, self.options = path, line, options
        self.orphan = "continuation" in options and previous is None
        self.program = (previous.program + "\n" if previous else "") + source

    def __str__(self):
        return f"{os.path.relpath(self.path)}:{self.line}"


def run_block(example):
    block = example.parsed
    unknown = [o for o in block.options if o not in OPTIONS]
    if unknown:
        raise AssertionError(
            f"Python block at {block} has unknown option(s) {unknown}; accepted: "
            f"{', '.join(OPTIONS)}. A block that must not run is not Python: "
            "fence it as text, console or sh.")
    if block.orphan:
        raise AssertionError(f"Python block at {block} continues no earlier Python block")
    if "needs-services" in block.options:
        _require_services(block)
    with tempfile.TemporaryDirectory(prefix="offramp-doc-") as scratch:
        program = os.path.join(scratch, "example.py")
        with open(program, "w") as f:
            f.write(block.program)
        proc = subprocess.run(
            [sys.executable, program], cwd=scratch, env=dict(os.environ),
            capture_output=True, text=True, timeout=BLOCK_TIMEOUT)
    if proc.returncode != 0:
        raise AssertionError(
            f"Python block at {block} exited {proc.returncode} in "
            f"{os.environ.get('OFFRAMP_CONCURRENCY', 'no')} mode:\n"
            f"{proc.stdout}{proc.stderr}")


def _require_services(block):
    for name, (host, port) in SERVICES.items():
        try:
            socket.create_connection((host, port), timeout=2).close()
        except OSError:
            msg = f"{name} is not reachable at {host}:{port}, needed by the block at {block}"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"{msg} and CI=true: real-server blocks must not skip",
                            pytrace=False)
            pytest.skip(msg)


pytest_collect_file = Sybil(
    parsers=[PythonBlocks()],
    patterns=["*.md"],
    excludes=[".venv/*", "*/.venv/*"],
).pytest()


def pytest_collection_modifyitems(items):
    """Blocks that need the servers carry the suite's needs_services mark,
    so ``make test-quick`` (``-m "not needs_services"``) leaves them out."""
    for item in items:
        block = getattr(getattr(item, "example", None), "parsed", None)
        if isinstance(block, Block) and "needs-services" in block.options:
            item.add_marker(pytest.mark.needs_services)
