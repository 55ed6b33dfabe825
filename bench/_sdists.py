"""Real trees for the benchmarks: sdists from PyPI, by exact version.

``pip download --no-deps --no-binary :all: NAME==VERSION`` into a cache
directory (``--cache``, else ``$OFFRAMP_CORPUS_CACHE``, else a temporary
one); an archive already there is reused, so a second run is offline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile


def sdist(name: str, version: str, cache: str) -> str:
    """The sdist of ``name==version`` in ``cache``, downloaded if missing."""
    stems = {f"{n}-{version}" for n in (name, name.replace(".", "_"), name.replace("-", "_"),
                                         name.replace(".", "-"))}
    for stem in sorted(stems):
        path = os.path.join(cache, stem + ".tar.gz")
        if os.path.exists(path):
            return path
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--no-binary", ":all:", f"{name}=={version}", "-d", cache], check=True)
    for stem in sorted(stems):
        path = os.path.join(cache, stem + ".tar.gz")
        if os.path.exists(path):
            return path
    raise SystemExit(f"pip download of {name}=={version} gave no sdist in {cache}")


def extract(archive: str, dest: str) -> str:
    """Unpack a fresh copy; returns the project directory inside ``dest``."""
    if os.path.exists(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    (top,) = os.listdir(dest)
    return os.path.join(dest, top)
