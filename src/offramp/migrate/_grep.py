"""Count lines the way ``grep -i eventlet`` prints them (GNU grep >= 3.5).

Matching the real grep, not an idealised one, is the point: the figure is
compared against ``grep -R -i eventlet | wc -l`` in reviews and CI gates.
What grep does, measured on GNU grep 3.8:

* It reads 96 KiB buffers.  Once a buffer holds a NUL byte the file is
  binary: nothing more is printed, and "binary file matches" goes to
  *stderr* (grep < 3.5 printed it on stdout; ``legacy_binary=True`` counts
  that one line per matching binary file).  Lines already printed from
  earlier buffers stay printed; the partial line carried into the NUL
  buffer is not.
* In a UTF-8 locale a matching line that is not valid UTF-8 is suppressed
  (also reported on stderr); in the C locale every byte is a character.
* ``-i`` on "eventlet" only folds ASCII: no non-ASCII character folds to
  e, v, n, t or l.
"""

from __future__ import annotations

import codecs
import locale
from collections.abc import Iterable, Iterator

BUFSIZE = 96 * 1024
NEEDLE = b"eventlet"


def utf8_locale() -> bool:
    """Whether grep run from this environment would check UTF-8."""
    return "utf" in (locale.nl_langinfo(locale.CODESET) or "").lower().replace("-", "")


def _valid_utf8(line: bytes) -> bool:
    try:
        codecs.decode(line, "utf-8")
    except UnicodeDecodeError:
        return False
    return True


def count_chunks(chunks: Iterable[bytes], utf8: bool, legacy_binary: bool = False) -> int:
    """Lines grep would print for a file read as ``BUFSIZE`` chunks."""
    count = 0
    residue = b""
    chunks = iter(chunks)
    for chunk in chunks:
        buf = residue + chunk
        if b"\0" in buf:
            if legacy_binary and (NEEDLE in buf.lower() or any(NEEDLE in c.lower() for c in chunks)):
                count += 1
            return count
        cut = buf.rfind(b"\n") + 1
        residue = buf[cut:]
        count += _count_lines(buf[:cut], utf8)
    return count + _count_lines(residue, utf8)


def _count_lines(text: bytes, utf8: bool) -> int:
    lowered = text.lower()
    if NEEDLE not in lowered:
        return 0
    if not utf8 or _valid_utf8(text):
        # Count matching lines without splitting into Python objects.
        n, pos = 0, lowered.find(NEEDLE)
        while pos >= 0:
            n += 1
            end = lowered.find(b"\n", pos)
            if end < 0:
                break
            pos = lowered.find(NEEDLE, end)
        return n
    return sum(1 for orig, low in zip(text.split(b"\n"), lowered.split(b"\n"))
               if NEEDLE in low and _valid_utf8(orig))


def iter_bytes(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), BUFSIZE):
        yield data[start:start + BUFSIZE]


def count_bytes(data: bytes, utf8: bool, legacy_binary: bool = False,
                lowered: bytes | None = None) -> int:
    """Lines grep would print for a whole file held in memory
    (``lowered``: ``data.lower()``, when the caller has it already)."""
    lowered = data.lower() if lowered is None else lowered
    if NEEDLE not in lowered:  # the common case, in one C-speed pass
        return 0
    return count_chunks(iter_bytes(data), utf8, legacy_binary)
