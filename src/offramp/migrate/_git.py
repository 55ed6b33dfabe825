"""Read-only git plumbing: commands, and one ``cat-file --batch`` pipe.

Nothing is checked out; every object is read from the object database.
"""

from __future__ import annotations

import subprocess


class GitError(Exception):
    pass


class Git:
    def __init__(self, repo: str) -> None:
        self.repo = repo
        try:
            self.run("rev-parse", "--git-dir")
        except GitError:
            raise GitError(f"not a git repository: {repo}") from None
        fmt = self.run("rev-parse", "--show-object-format").strip() or "sha1"
        self.hash_bytes = 32 if fmt == "sha256" else 20
        self._batch: subprocess.Popen | None = None

    def run(self, *args: str, ok_codes: tuple[int, ...] = (0,)) -> str:
        try:
            proc = subprocess.run(["git", "-C", self.repo, *args], capture_output=True)
        except FileNotFoundError:
            raise GitError("git is not installed") from None
        if proc.returncode not in ok_codes:
            raise GitError(f"git {' '.join(args)}: {proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout.decode("utf-8", "replace")

    def read(self, sha: str) -> tuple[str, bytes]:
        """``(type, content)`` of one object, through the batch pipe."""
        return self.read_many([sha])[0]

    # Requests written ahead of reading; small enough (41 bytes each) to fit
    # the pipe buffer, so git never waits on us while we wait on it.
    PIPELINE = 256

    def read_many(self, shas: list[str]) -> list[tuple[str, bytes]]:
        """Several objects, requests pipelined to save round trips."""
        if self._batch is None:
            self._batch = subprocess.Popen(["git", "-C", self.repo, "cat-file", "--batch"],
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        out = []
        for start in range(0, len(shas), self.PIPELINE):
            chunk = shas[start:start + self.PIPELINE]
            self._batch.stdin.write("".join(f"{sha}\n" for sha in chunk).encode())
            self._batch.stdin.flush()
            for sha in chunk:
                header = self._batch.stdout.readline().split()
                if len(header) != 3:
                    raise GitError(f"cannot read object {sha}: {b' '.join(header).decode()}")
                out.append((header[1].decode(), self._read_exact(int(header[2]) + 1)[:-1]))
        return out

    def _read_exact(self, size: int) -> bytes:
        # A pipe may return short reads (it does under eventlet's green I/O).
        chunks, left = [], size
        while left:
            chunk = self._batch.stdout.read(left)
            if not chunk:
                raise GitError("git cat-file --batch ended early")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def tree_entries(self, sha: str):
        """``(mode, name, sha)`` of a tree object, parsed from its binary form."""
        _, data = self.read(sha)
        pos, n = 0, self.hash_bytes
        while pos < len(data):
            space = data.index(b" ", pos)
            nul = data.index(b"\0", space)
            yield (data[pos:space].decode(), data[space + 1:nul].decode("utf-8", "surrogateescape"),
                   data[nul + 1:nul + 1 + n].hex())
            pos = nul + 1 + n

    def close(self) -> None:
        if self._batch is not None:
            self._batch.stdin.close()
            self._batch.wait()
            self._batch = None
