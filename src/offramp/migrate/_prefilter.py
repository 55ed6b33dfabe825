"""Which files are worth parsing, decided at memory-scan speed.

The rules' needles (``_registry.needles``) say which byte strings a file
must hold to be parsed.  Most files hold none, and each needle is one pass
over the file; needles sharing a substring (``'Event'``, ``"Event"``,
``threading.Event``) are first looked for through that one substring, so
a file holding none of the gates costs a pass per gate, not per needle.
Needles that differ only in case (``eventlet``, ``EVENTLET``) share one
gate in the lowered file, which ``scan`` has made anyway to count lines.
"""

from __future__ import annotations

from collections.abc import Iterable

# Shorter gates would match too often to save anything.
MIN_GATE = 5


class Prefilter:
    def __init__(self, needles: Iterable[bytes]) -> None:
        needles = tuple(dict.fromkeys(needles))
        variants: dict[bytes, list[bytes]] = {}
        for needle in needles:
            variants.setdefault(needle.lower(), []).append(needle)
        # (lowered gate, its case variants): only for a needle that has some.
        self.folded = [(low, tuple(same)) for low, same in variants.items() if len(same) > 1]
        folded = {n for _, same in self.folded for n in same}
        self.groups = gates(tuple(n for n in needles if n not in folded))

    def wants(self, data: bytes, lowered: bytes | None = None) -> bool:
        """Whether ``data`` holds any needle (``lowered``: ``data.lower()``,
        when the caller has it already)."""
        if self.folded:
            lowered = data.lower() if lowered is None else lowered
            for gate, members in self.folded:
                if gate in lowered and any(n in data for n in members):
                    return True
        for gate, members in self.groups:
            if gate in data and (len(members) == 1 or any(n in data for n in members)):
                return True
        return False


def gates(needles: tuple[bytes, ...]) -> list[tuple[bytes, tuple[bytes, ...]]]:
    """``(gate, needles containing it)``, greedily: the substring shared by
    the most needles first, the longest among equals."""
    groups = []
    left = list(needles)
    while left:
        best, members = left[0], (left[0],)
        for needle in left:
            for size in range(MIN_GATE, len(needle) + 1):
                for start in range(len(needle) - size + 1):
                    gate = needle[start:start + size]
                    holders = tuple(n for n in left if gate in n)
                    if (len(holders), len(gate)) > (len(members), len(best)):
                        best, members = gate, holders
        groups.append((best, members))
        left = [n for n in left if n not in members]
    return groups
