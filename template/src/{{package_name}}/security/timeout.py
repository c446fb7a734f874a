"""Bound the time a request may take; a request that runs over gets a JSON 504.

A stream (server-sent events) releases the deadline once its response has
started (:func:`release_timeout`): ``REQUEST_TIMEOUT`` bounds the time to its
first byte, and the stream's own limits (idle, maximum duration, backpressure:
:mod:`..streams`) bound the rest.
"""

from __future__ import annotations

from asyncio import (
    AbstractEventLoop,
    CancelledError,
    Task,
    TimerHandle,
    current_task,
    get_running_loop,
)
from itertools import count
from typing import Any

import structlog

from ._asgi import ASGIApp, ErrorResponse, Receive, Scope, Send

__all__ = ["TimeoutMiddleware", "release_timeout"]

# Where the layer leaves the request's "release my deadline" callable in the scope.
_RELEASE_KEY = "bulwark.timeout.release"


def release_timeout(scope: Scope) -> None:
    """Lift this request's deadline (a stream whose response has started); else nothing."""
    release = scope.get(_RELEASE_KEY)
    if release is not None:
        release()


# Request keys: unique per process (``next`` on a count is atomic).
_keys = count()


class _Watchdog:
    """Cancels the tasks of one event loop whose deadline has passed.

    One timer for all requests instead of one per request (``asyncio.timeout``
    makes, schedules, cancels and heap-sorts a timer handle for every request).
    ``pending`` maps a request key to its (deadline, task). Every deadline is
    "now + the same timeout", so requests arrive in deadline order: the first
    entry of the (insertion-ordered) dict is the next to expire, and the timer
    only ever waits for that one. An entry the watchdog removed is one it expired.
    """

    __slots__ = ("loop", "pending", "timer")

    def __init__(self, loop: AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: dict[int, tuple[float, Task[Any]]] = {}
        self.timer: TimerHandle | None = None

    def arm(self) -> None:
        """Wake up when the first pending deadline passes (call when no timer is set)."""
        if self.pending:
            at = next(iter(self.pending.values()))[0]
            self.timer = self.loop.call_at(at, self._expire, at)

    def _expire(self, when: float) -> None:
        # The loop may run a timer a clock tick early: the time it was set for counts as now.
        now = max(when, self.loop.time())
        self.timer = None
        pending = self.pending
        while pending:
            key = next(iter(pending))
            if pending[key][0] > now:
                break
            _, task = pending.pop(key)
            task.cancel()
        self.arm()


class TimeoutMiddleware:
    """Cancel the handler after ``timeout`` seconds and raise a 504 :class:`ErrorResponse`.

    The error layer (outside this one) answers it if the response has not
    started; otherwise the response is cut off and the server closes the connection.
    Cancellation follows ``asyncio.timeout``: the handler sees ``CancelledError``;
    a cancellation that is not ours (or not only ours) propagates untouched, and
    the handler's own ``TimeoutError`` is not mistaken for ours.
    """

    def __init__(self, app: ASGIApp, *, timeout: float) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.app = app
        # Bound when the app is built, so it uses the logging configuration then in force.
        self.logger = structlog.get_logger().bind(logger=__name__)
        self.timeout = timeout
        self.message = f"The request took longer than {timeout:g}s."
        # The current loop's. A request keeps the one it registered with, so a new
        # loop (tests run one per test) simply gets a new watchdog.
        self._watchdog: _Watchdog | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = get_running_loop()
        task = current_task(loop)
        if task is None:
            raise RuntimeError("TimeoutMiddleware must run inside an asyncio task")
        watchdog = self._watchdog
        if watchdog is None or watchdog.loop is not loop:
            watchdog = self._watchdog = _Watchdog(loop)
        cancelling = task.cancelling()
        key = next(_keys)
        pending = watchdog.pending
        pending[key] = (loop.time() + self.timeout, task)
        if watchdog.timer is None:
            watchdog.arm()
        released = False

        def release() -> None:
            nonlocal released
            if pending.pop(key, None) is not None:
                released = True

        scope[_RELEASE_KEY] = release
        # Below, "pop returned None" (and not released) means the watchdog expired it.
        try:
            await self.app(scope, receive, send)
        except CancelledError as error:
            # Ours alone only if no other cancellation was requested meanwhile.
            if not released and pending.pop(key, None) is None and task.uncancel() <= cancelling:
                self.logger.warning("request_timeout", path=scope["path"], timeout=self.timeout)
                raise ErrorResponse(504, self.message, control="timeout") from error
            raise
        except BaseException:
            if not released and pending.pop(key, None) is None:
                task.uncancel()
            raise
        if not released and pending.pop(key, None) is None:
            task.uncancel()  # the handler swallowed our cancellation and answered anyway
