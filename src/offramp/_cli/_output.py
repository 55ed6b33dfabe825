"""Output for people on a terminal and for programs behind a pipe.

On a terminal, tables are drawn by rich and long cells wrap instead of
being cut.  Behind a pipe or in a file, the same tables are written as
plain aligned text with every cell in full, so ``offramp scan . | grep``
and ``| cat`` see each path and date whole.  A reader that goes away
early (``| head -1``) ends the command quietly, as it ends grep.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Sequence

# What a shell reports for a command killed by SIGPIPE, grep included.
CLOSED_PIPE_STATUS = 128 + signal.SIGPIPE


def is_terminal(stream=None) -> bool:
    stream = sys.stdout if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]], *,
          numeric: Sequence[str] = (), stream=None) -> None:
    """One table; ``numeric`` names the columns aligned to the right."""
    stream = sys.stdout if stream is None else stream
    cells = [["" if c is None else str(c) for c in row] for row in rows]
    if is_terminal(stream):
        _rich_table(title, columns, cells, numeric, stream)
    else:
        stream.write(plain_table(title, columns, cells, numeric))


def plain_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]],
                numeric: Sequence[str] = ()) -> str:
    """Aligned columns, a dashed rule under the header, nothing cut."""
    widths = [max([len(col)] + [len(row[i]) for row in rows]) for i, col in enumerate(columns)]
    right = [col in numeric for col in columns]

    def line(values) -> str:
        parts = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)]
        return "  ".join(parts).rstrip() + "\n"

    out = [title + "\n"] if title else []
    out.append(line(columns))
    out.append(line(["-" * w for w in widths]))
    out.extend(line(row) for row in rows)
    return "".join(out) + "\n"


def _rich_table(title, columns, rows, numeric, stream) -> None:
    from rich.console import Console
    from rich.table import Table

    view = Table(title=title)
    for col in columns:
        # fold: a path longer than its column wraps; it never loses its end.
        view.add_column(col, justify="right" if col in numeric else "left", overflow="fold")
    for row in rows:
        view.add_row(*row)
    Console(file=stream, highlight=False).print(view)


def text(message: str, stream=None) -> None:
    """A line of prose, printed as given (no rich markup is interpreted)."""
    stream = sys.stdout if stream is None else stream
    stream.write(message + "\n")


def silence_closed_stdout() -> int:
    """After a reader closed stdout: drop what is still buffered, quietly.

    Pointing the descriptor at /dev/null keeps the interpreter's final
    flush from printing a second BrokenPipeError at exit.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # an in-memory stdout has no descriptor
        pass
    return CLOSED_PIPE_STATUS


def quick_exit(code: int) -> None:
    """End the process now, as a read-only command's last step (``scan``,
    ``lint``), when nothing is left that an exit would wait for or flush:
    tearing the interpreter down, object by object, cost a cold scan of
    cinder 12 ms, a twentieth of its time.  Otherwise return."""
    if threading.active_count() > 1:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class progress:
    """A transient rich progress bar on stderr, only when stderr is a
    terminal: ``with progress("counting") as update:`` gives ``update(done,
    total)``, or None when there is nothing to draw on."""

    def __init__(self, label: str, enabled: bool = True) -> None:
        self.label, self.enabled, self.bar, self.task = label, enabled, None, None

    def __enter__(self):
        if not (self.enabled and is_terminal(sys.stderr)):
            return None
        from rich.console import Console
        from rich.progress import Progress

        self.bar = Progress(console=Console(stderr=True), transient=True)
        self.bar.start()
        self.task = self.bar.add_task(self.label, total=None)
        return self

    def __call__(self, done: int, total: int) -> None:
        self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self.bar:
            self.bar.stop()
