"""Running an `ExchangeSim` on its own event loop in a background thread, for synchronous tests."""
from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

from pairdesk.sim.server import ExchangeSim


@contextlib.contextmanager
def run_in_thread(sim: ExchangeSim, start_timeout_s: float = 30.0) -> Iterator[ExchangeSim]:
    """Run `sim` on its own event loop in a daemon thread; stop it on exit.

    with run_in_thread(ExchangeSim(rate_per_s=200)) as sim:
        urllib.request.urlopen(sim.http_url("/api/v3/ping"))
    """
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(sim.start())
        except BaseException as exc:  # reported to the caller's thread below
            failure.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="exchange_sim", daemon=True)
    thread.start()
    if not started.wait(start_timeout_s):
        raise TimeoutError("exchange_sim did not start")
    if failure:
        thread.join()
        loop.close()
        raise failure[0]
    try:
        yield sim
    finally:
        asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
