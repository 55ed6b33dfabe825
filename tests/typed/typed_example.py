"""A small typed program on offramp's public API.

``mypy --strict`` and pyright in strict mode check it in the suite
(test_typing.py), which also runs it in each mode.
"""

from __future__ import annotations

import threading

import offramp

offramp.bootstrap()


def read_cell(cell: str, limit: int) -> list[str]:
    if cell == "down":
        raise ConnectionError(f"cell {cell} is down")
    return [f"{cell}-host{i}" for i in range(limit)]


def total_hosts(results: dict[str, offramp.Outcome[list[str]]]) -> int:
    hosts = 0
    for cell, outcome in results.items():
        if outcome is offramp.DID_NOT_RESPOND:
            print(f"{cell}: did not respond")
        elif isinstance(outcome, BaseException):
            print(f"{cell}: failed with {type(outcome).__name__}")
        else:
            hosts += len(outcome)  # a list[str] here, without a cast
    return hosts


def healthy(results: dict[str, offramp.Outcome[list[str]]]) -> dict[str, list[str]]:
    return {cell: v for cell, v in results.items() if not offramp.is_failure(v)}


def double(x: int) -> int:
    return x * 2


def main() -> int:
    doubled: offramp.Future[int] = offramp.spawn(double, 21)
    upper: offramp.Future[str] = offramp.spawn_on("typed", str.upper, "x")

    results = offramp.scatter_gather(["a", "b", "down"], read_cell, 2, timeout=5)
    hosts = total_hosts(results)
    assert sorted(healthy(results)) == ["a", "b"]

    with offramp.get_executor("typed") as executor:
        length: offramp.Future[int] = executor.submit(len, "four")

    with offramp.DelayedExecutor(offramp.get_executor("typed")) as delayed:
        later: offramp.Future[float] = delayed.submit_after(0.01, float, "1.5")
        assert later.result(5) == 1.5  # leaving the block cancels what waits

    capped = offramp.CappedExecutor("typed", {"build": 1})
    release = threading.Event()
    build: offramp.Future[bool] = capped.submit("build", release.wait, 5)
    queued: offramp.Future[str] = capped.submit("build", "-".join, ["a", "b"])
    release.set()

    assert doubled.result(5) + length.result(5) == 46
    assert upper.result(5) + queued.result(5) == "Xa-b"
    assert build.result(5) is True
    assert hosts == 4
    clean: bool = offramp.shutdown_executors()
    print("typed example ok", offramp.current_mode().value, clean)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
