"""Run every benchmark once per mode, each mode in its own process."""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    scripts = sorted(p for p in HERE.glob("bench_*.py"))
    status = 0
    for script in scripts:
        per_mode = script.name in ("bench_runtime.py", "bench_scheduler.py")
        modes = ("threading", "eventlet") if per_mode else (None,)
        for mode in modes:
            env = dict(os.environ)
            if mode:
                env["OFFRAMP_CONCURRENCY"] = mode
            print(f"\n### {script.name}" + (f" ({mode})" if mode else ""), flush=True)
            status |= subprocess.call([sys.executable, str(script)], env=env,
                                      stderr=subprocess.DEVNULL)
    return status


if __name__ == "__main__":
    sys.exit(main())
