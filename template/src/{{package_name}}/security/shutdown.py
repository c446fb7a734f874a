"""One process-wide stop notice: at SIGTERM every open stream ends with its final word.

Servers drain a request/response in moments, but a stream never finishes on its
own: left alone it is cut at ``SHUTDOWN_GRACE`` with no final event. So each
subscription (:meth:`.streams.Broadcaster.subscribe`) watches :data:`STOP`, and
the notice is given once per process, whatever the framework or server:

- by the worker's SIGTERM/SIGINT (:func:`stop_on_signal`, entered in the app's
  lifespan: our handler runs first, then the server's own, which still drains);
- at the lifespan's shutdown (streams still open then end too);
- by the gRPC server's stop, before it drains in-flight RPCs.

SSE streams then send ``event: end`` with ``{"reason": "shutdown"}``, WebSockets
close with 1001 and gRPC WatchItems sends its ``end`` event.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from types import FrameType
from typing import Any

__all__ = ["STOP", "StopNotice", "stop_on_signal"]

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopNotice:
    """Callbacks run once when the process stops; one given after the stop runs at once.

    Not thread-safe: :meth:`stop` runs on the event loop (a signal handler
    schedules it there).
    """

    def __init__(self) -> None:
        self._watchers: dict[int, Callable[[], None]] = {}
        self._keys = iter(range(1 << 62))
        self.stopping = False

    def __len__(self) -> int:
        """How many watchers there are now (the tests count them)."""
        return len(self._watchers)

    @contextmanager
    def watching(self, callback: Callable[[], None]) -> Iterator[None]:
        """Run ``callback`` at the stop, if it comes before the block ends."""
        if self.stopping:
            callback()
        key = next(self._keys)
        self._watchers[key] = callback
        try:
            yield
        finally:
            self._watchers.pop(key, None)

    def stop(self) -> None:
        """Give the notice: every watcher's callback runs (once)."""
        self.stopping = True
        watchers, self._watchers = self._watchers, {}
        for callback in watchers.values():
            callback()

    def reset(self) -> None:
        """Take the notice back (a new app in the same process: tests)."""
        self.stopping = False


STOP = StopNotice()


@asynccontextmanager
async def stop_on_signal(notice: StopNotice = STOP) -> AsyncIterator[None]:
    """For the app's lifespan: SIGTERM/SIGINT give the notice; so does the block's end.

    The server's handler stays in place and is called after ours (it may be a
    plain handler, or the event loop's, which also sees the signal through its
    wakeup file). Under Hypercorn the supervisor sends SIGTERM to the server's
    whole process group, so each worker gets it. Outside the main thread (an app
    under test) only the lifespan's end gives the notice.
    """
    loop = asyncio.get_running_loop()
    notice.reset()
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        with suppress(RuntimeError):  # the loop is closed already
            loop.call_soon_threadsafe(notice.stop)
        earlier = previous.get(signum)
        if callable(earlier):
            earlier(signum, frame)
        # SIG_DFL or SIG_IGN: a worker its server stops another way (Hypercorn's: a flag
        # its parent sets); it ends its streams and leaves the exit to the server.

    with suppress(ValueError):  # not the main thread
        for signum in _SIGNALS:
            previous[signum] = signal.getsignal(signum)
            signal.signal(signum, handler)
    try:
        yield
    finally:
        notice.stop()  # streams still open end now, with their final word
        notice.reset()
        for number, earlier in previous.items():
            if signal.getsignal(number) is handler and earlier is not None:
                signal.signal(number, earlier)
