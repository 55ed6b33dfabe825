"""The runner of the docs' Python blocks (the root conftest.py) misses no
block and skips none quietly."""

import re
import subprocess
import tomllib
from pathlib import Path

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*(python3?|py)\b", re.MULTILINE | re.IGNORECASE)


def test_every_markdown_file_with_python_blocks_is_collected():
    tracked = subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    testpaths = tomllib.loads((ROOT / "pyproject.toml").read_text())[
        "tool"]["pytest"]["ini_options"]["testpaths"]
    with_python = [p for p in tracked if FENCE.search((ROOT / p).read_text())]
    assert "README.md" in with_python and "docs/runtime.md" in with_python
    missed = [p for p in with_python
              if not any(p == t or p.startswith(t.rstrip("/") + "/") for t in testpaths)]
    assert not missed, f"Markdown files with Python blocks outside testpaths: {missed}"


DOC = """
# A page

```python
print("runs")
```

```python
raise SystemExit("this example is broken")
```

```python notest
print("a block someone wanted skipped")
```

```python continuation
print("continues", "runs")
```

```text
python output is not run
```
"""


def test_blocks_run_and_broken_or_skipped_ones_fail_loudly(pytester, mode):
    pytester.makeconftest((ROOT / "conftest.py").read_text())
    pytester.makefile(".md", page=DOC)
    result = pytester.runpytest_subprocess(f"--offramp-mode={mode}", "page.md", "-p",
                                           "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    out = result.stdout.str()
    assert "Python block at page.md:7 exited 1" in out
    assert "this example is broken" in out
    assert "Python block at page.md:11 has unknown option(s) ['notest']" in out
