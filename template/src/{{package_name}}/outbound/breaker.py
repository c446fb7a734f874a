"""A circuit breaker: after repeated failures, fail fast instead of calling a sick upstream.

Hand-written, for want of a library that fits. ``aiobreaker`` (last release 2021)
is untyped and times its states with ``datetime.utcnow`` (deprecated since Python
3.12); ``purgatory`` (typed, 2024) times them with the wall clock (``time.time``,
which jumps with NTP) and, like ``aiobreaker``, lets *every* call through while
half-open, so a recovering upstream is hit by the whole backlog at once.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from ..security.observe import observer

__all__ = ["CircuitBreaker", "CircuitOpenError", "State"]

T = TypeVar("T")


class State(enum.Enum):
    CLOSED = "closed"  # calls pass; consecutive failures are counted
    OPEN = "open"  # calls fail fast until the recovery timeout has passed
    HALF_OPEN = "half_open"  # one probe call at a time decides: closed again, or open again


class CircuitOpenError(Exception):
    """Refused without calling: the circuit is open (or its one probe is under way)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("circuit open")
        self.retry_after = retry_after  # seconds until a call may be let through


def _any_exception(error: Exception) -> bool:
    return True


class CircuitBreaker:
    """Closed → open after ``failure_threshold`` consecutive failures → half-open after
    ``recovery_timeout`` seconds: one probe; its success closes, its failure reopens.

    ``is_failure`` says which exceptions count (others count as a success: the
    upstream answered). It is only asked about an :class:`Exception`: a call ended
    by anything else (cancelled, the process stopping) decides nothing, whatever the
    predicate; if it was the probe, the next call probes. Results of calls admitted
    before the circuit opened are ignored once it has. Times come from
    ``time.monotonic``. No lock: the breaker lives on one event loop and every
    change of state happens between two ``await``\\ s.
    """

    def __init__(
        self,
        *,
        failure_threshold: int,
        recovery_timeout: float,
        is_failure: Callable[[Exception], bool] = _any_exception,
        clock: Callable[[], float] = time.monotonic,
        name: str = "upstream",
    ) -> None:
        if failure_threshold < 1 or recovery_timeout <= 0:
            raise ValueError("failure_threshold must be >= 1 and recovery_timeout > 0")
        self.failure_threshold = failure_threshold
        self.recovery_timeout = recovery_timeout
        self.is_failure = is_failure
        self.clock = clock
        self.name = name
        self.logger = structlog.get_logger().bind(logger=__name__, circuit=name)
        self._state = State.CLOSED
        observer().circuit_state(name, State.CLOSED.value)
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> State:
        """The state now (an open circuit whose timeout has passed reads as half-open)."""
        if self._state is State.OPEN and self._remaining() <= 0:
            return State.HALF_OPEN
        return self._state

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run ``operation`` if the circuit lets it through; else :class:`CircuitOpenError`."""
        probe = self._admit()
        try:
            result = await operation()
        except Exception as error:
            if self.is_failure(error):
                self._failed(probe)
            else:
                self._succeeded(probe)
            raise
        except BaseException:
            # Cancelled (the caller left, a timeout above us, shutdown): no word from
            # the upstream, so no count; if this was the probe, the next call probes.
            if probe:
                self._probing = False
            raise
        self._succeeded(probe)
        return result

    def _remaining(self) -> float:
        return self._opened_at + self.recovery_timeout - self.clock()

    def _admit(self) -> bool:
        """Let a call through or raise; True if the call is the half-open probe."""
        if self._state is State.CLOSED:
            return False
        if self._state is State.OPEN:
            if (remaining := self._remaining()) > 0:
                raise CircuitOpenError(remaining)
            self._move(State.HALF_OPEN)
        if self._probing:
            raise CircuitOpenError(0.0)  # the probe's answer is due within the call timeout
        self._probing = True
        return True

    def _succeeded(self, probe: bool) -> None:
        if probe:
            self._probing = False
            self._failures = 0
            self._move(State.CLOSED)
        elif self._state is State.CLOSED:
            self._failures = 0

    def _failed(self, probe: bool) -> None:
        if probe:
            self._probing = False
            self._open()
        elif self._state is State.CLOSED:
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._open()

    def _open(self) -> None:
        self._opened_at = self.clock()
        self._failures = 0
        self._move(State.OPEN)

    def _move(self, state: State) -> None:
        if state is not self._state:
            log = self.logger.info if state is State.CLOSED else self.logger.warning
            log("circuit_state", state=state.value, previous=self._state.value)
            observer().circuit_state(self.name, state.value)
        self._state = state
