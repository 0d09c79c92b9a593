"""The one way tests run work at the same moment: threads released together by a barrier,
each on its own database connection (closed when it is done)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def run_at_once(target: Callable[[int], object], count: int) -> tuple[list, list[BaseException]]:
    """Call target(0..count-1) in `count` threads at once; (results by index, errors raised)."""
    results: list = [None] * count
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def runner(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors
