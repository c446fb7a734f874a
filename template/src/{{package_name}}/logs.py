"""Structured logging: JSON lines in production, coloured console in debug.

Every line made while serving a request carries its ``request_id`` (read from
the context variable the request-id layer sets, so no per-request binding).
Every line, ours or a library's, passes the redaction rules of
``security.redaction`` last, after tracebacks are rendered, so exception
messages are scrubbed too; values cannot break a line (JSON escapes control
characters; the console renderer gets them escaped first). An exception
nothing caught (a server that cannot bind its port) is logged the same way.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import re
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, BinaryIO

import orjson
import structlog
import structlog.tracebacks
from structlog.processors import JSONRenderer
from structlog.typing import EventDict, Processor, WrappedLogger

from .security import current_request_id
from .security.redaction import Redactor, escape_control_characters, secret_values
from .settings import Settings

__all__ = ["configure_logging", "flush_logs", "write_logs_through"]


def add_request_id(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Attach the current request id, if a request is being served."""
    request_id = current_request_id()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


def add_request_fields(_: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """``add_request_id``, ``add_log_level`` and a UTC timestamp in one call (JSON hot path).

    Same keys, same order, same values; one processor call instead of three, on
    every line (the access log writes one per request).
    """
    request_id = current_request_id()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    event_dict["level"] = _LEVEL_NAMES.get(method_name, method_name)
    event_dict["timestamp"] = datetime.now(UTC)
    return event_dict


# What structlog's ``add_log_level`` maps; every other method name is its own level.
_LEVEL_NAMES = {"warn": "warning", "exception": "error"}


# Timestamps as TimeStamper(fmt="iso", utc=True) writes them (``…T12:00:00.123456Z``):
# our lines and the servers' and libraries' (stamped by the foreign chain) alike.
_ORJSON_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_UTC_Z


class JSONLines:
    """Last processor of the JSON chain: one redacted line of JSON, as bytes.

    Tracebacks are rendered only for lines that carry ``exc_info`` (few do), and
    orjson appends the newline, so the writer has nothing to add.
    """

    def __init__(self, tracebacks: Processor, redactor: Redactor) -> None:
        self.tracebacks = tracebacks
        self.redactor = redactor

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> bytes:
        redactor = self.redactor
        if "exc_info" not in event_dict and redactor.known_clean(event_dict):
            # Flat, no sensitive name, every string known clean: the access line, mostly.
            return orjson.dumps(event_dict, option=_ORJSON_OPTIONS)
        rendered: Any = redactor.redact_names(event_dict)
        if "exc_info" in rendered:
            rendered = self.tracebacks(logger, method_name, rendered)
        line = orjson.dumps(rendered, default=_fallback, option=_ORJSON_OPTIONS)
        return escape_unicode_line_breaks(redactor.scrub_line(line))


# Characters JSON may carry raw that line splitters (Python's among them) break on.
_UNICODE_LINE_BREAKS = re.compile(b"\xe2\x80[\xa8\xa9]|\xc2[\x80-\x9f]")


def escape_unicode_line_breaks(line: bytes) -> bytes:
    """U+2028, U+2029 and C1 controls (NEL…) as ``\\uXXXX`` escapes: one event, one line."""
    if _UNICODE_LINE_BREAKS.search(line) is None:
        return line
    return _UNICODE_LINE_BREAKS.sub(lambda match: b"\\u%04x" % ord(match.group().decode()), line)


class RedactNames:
    """Processor: values under sensitive keys (``password``, ``authorization``…) replaced."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    def __call__(self, _: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        redacted: EventDict = self.redactor.redact_names(event_dict)
        return redacted


class ScrubText:
    """Processor after a text renderer: secrets by shape removed from the finished line."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    def __call__(self, _: WrappedLogger, __: str, line: Any) -> str:
        return self.redactor.scrub_text(str(line))


def escape_values(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Console only: control characters in string values escaped (JSON does its own)."""
    return {
        key: escape_control_characters(value) if isinstance(value, str) else value
        for key, value in event_dict.items()
    }


def _fallback(value: Any) -> Any:
    """What structlog's JSON renderer does with what JSON cannot hold."""
    try:
        return value.__structlog__()
    except AttributeError:
        return repr(value)


class LineSink:
    """Where the JSON lines go: one file, and a bounded buffer for routine lines.

    ``write`` sends a line out at once (refusals, errors, audit lines, warnings:
    everything but a successful request's access line), after whatever is
    buffered, so the file keeps the order the lines were made in. ``buffer``
    (the access line of a response below 400) holds the line until the buffer
    reaches ``max_bytes`` or ``interval`` seconds have passed since the first
    line was held, the way nginx's ``access_log ... buffer= flush=`` does: one
    ``write(2)`` for many lines instead of one per request. A process killed
    without warning (SIGKILL, OOM kill, power loss) loses at most that much;
    shutdown, the crash paths and interpreter exit flush it. With ``interval``
    None every line is written at once.
    """

    def __init__(self, file: BinaryIO, interval: float | None, max_bytes: int) -> None:
        self._file = file
        self.interval = interval
        self.max_bytes = max_bytes
        self._held: list[bytes] = []
        self._size = 0
        # Re-entrant: a signal handler that logs may run while this thread holds it.
        self._lock = threading.RLock()  # stdlib records can come from other threads
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    def write(self, line: bytes) -> None:
        """Out now, after anything held."""
        with self._lock:
            if self._held:
                line = b"".join((*self._held, line))
                self._drop_held()
            self._file.write(line)
            self._file.flush()

    def buffer(self, line: bytes) -> None:
        """Held for at most ``interval`` seconds or ``max_bytes``; at once outside an event loop."""
        interval = self.interval
        if interval is None:
            self.write(line)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # nothing would flush it on time
            self.write(line)
            return
        with self._lock:
            self._held.append(line)
            self._size += len(line)
            if self._size < self.max_bytes:
                if self._timer is None or self._timer_loop is not loop:
                    self._timer = loop.call_later(interval, self.flush)
                    self._timer_loop = loop
                return
        self.flush()

    def flush(self) -> None:
        """Write out whatever is held (the timer, shutdown, exit)."""
        with self._lock:
            if not self._held:
                return
            lines = b"".join(self._held)
            self._drop_held()
            self._file.write(lines)
            self._file.flush()

    def write_through(self) -> None:
        """Hold nothing from now on, and write out what is held: the process is stopping."""
        with self._lock:
            self.interval = None
        self.flush()

    def _drop_held(self) -> None:
        self._held = []
        self._size = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class LineWriter:
    """structlog's output for JSON: each line written (and flushed) in one ``write``.

    Like ``structlog.BytesLogger`` minus its newline (the renderer adds it) and
    its lock: each line goes out in a single ``write`` call (a buffered file
    holds its own lock for it), so lines from different threads never mix.
    ``buffered`` is the access log's path for successful requests (see
    :class:`LineSink`); every other line is written at once.
    """

    def __init__(self, sink: LineSink) -> None:
        self.msg = sink.write
        self.buffered = sink.buffer
        self.log = self.debug = self.info = self.warn = self.warning = self.msg
        self.fatal = self.failure = self.err = self.error = self.critical = self.msg
        self.exception = self.msg


class LineWriterFactory:
    """A structlog ``logger_factory`` making :class:`LineWriter` objects for one sink."""

    def __init__(self, sink: LineSink) -> None:
        self.sink = sink

    def __call__(self, *_: Any) -> LineWriter:
        return LineWriter(self.sink)


class _AfterHeldLines(logging.StreamHandler):  # type: ignore[type-arg]
    """The stdlib handler: held access lines go out first, so the order is kept."""

    def __init__(self, stream: Any, sink: LineSink | None) -> None:
        super().__init__(stream)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        if self.sink is not None:
            self.sink.flush()
        super().emit(record)


_sink: LineSink | None = None  # the one configure_logging made last


def flush_logs() -> None:
    """Write out the access lines held in the buffer (shutdown, exit)."""
    if _sink is not None:
        with contextlib.suppress(ValueError, OSError):  # stdout closed: nowhere to write
            _sink.flush()


atexit.register(flush_logs)


def write_logs_through() -> None:
    """The process is stopping: held access lines out now, every later line at once.

    A server may end a worker before its lifespan has finished (Hypercorn
    terminates the other workers once one has exited, when our signal handler
    is already gone): a line still held then would be lost with it.
    """
    if _sink is not None:
        with contextlib.suppress(ValueError, OSError):  # stdout closed: nowhere to write
            _sink.write_through()


def log_uncaught(
    kind: type[BaseException], error: BaseException, traceback: TracebackType | None
) -> None:
    """``sys.excepthook``: the exception that ends the process, as one rendered, redacted line.

    Python would print it as raw text on stderr, past the renderer and the
    redaction rules (an error message can quote a URL with its password).
    """
    if issubclass(kind, KeyboardInterrupt):  # Ctrl+C at a prompt: Python's own short note
        sys.__excepthook__(kind, error, traceback)
        return
    logger = structlog.get_logger().bind(logger=__name__)
    logger.critical("uncaught_exception", exc_info=(kind, error, traceback))


def configure_logging(
    settings: Settings, *, first: Sequence[Processor] = (), context: Sequence[Processor] = ()
) -> None:
    """Configure structlog (and route stdlib logging through the same renderer).

    ``first`` runs before everything else on each of our own lines (error
    reporting hooks in there to see exceptions as they are logged). ``context``
    adds fields of the request being served to every line, ours and the
    libraries' (tracing adds the trace and span ids there).
    """
    level = logging.getLevelNamesMapping()[settings.log_level]
    redactor = Redactor(secret_values(settings))
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        add_request_id,
        *context,
        structlog.processors.add_log_level,
    ]
    iso_time = structlog.processors.TimeStamper(fmt="iso", utc=True)
    native: list[Processor]  # structlog's own loggers (the access log is one: hot path)
    foreign: list[Processor]  # stdlib logging records from libraries and servers (pre-render)
    render: list[Processor]  # what turns a foreign record's event dict into its line
    factory: LineWriterFactory | structlog.WriteLoggerFactory
    sink: LineSink | None = None  # console lines (debug) are never held
    if settings.effective_log_format == "json":
        # Structured tracebacks without local variables: locals hold request bodies,
        # headers and secrets, which must never reach the logs.
        tracebacks = structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        )
        # orjson straight to bytes is ~5x cheaper than json.dumps plus encoding. The
        # same fields as ``foreign`` in fewer processor calls: this is the hot path.
        native = [
            *first,
            structlog.contextvars.merge_contextvars,
            *context,
            add_request_fields,
            JSONLines(tracebacks, redactor),
        ]
        foreign = [*shared, iso_time, RedactNames(redactor), tracebacks]
        render = [JSONRenderer(), ScrubText(redactor)]
        interval = settings.access_log_flush_interval if settings.access_log_buffered else None
        sink = LineSink(sys.stdout.buffer, interval, settings.access_log_buffer_bytes)
        factory = LineWriterFactory(sink)
    else:
        # Plain tracebacks: Rich's (the default when installed) would print local variables.
        console = structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
        render = [escape_values, console, ScrubText(redactor)]
        native = [*first, *shared, iso_time, RedactNames(redactor), *render]
        foreign = [*shared, iso_time, RedactNames(redactor)]
        factory = structlog.WriteLoggerFactory(file=sys.stdout)

    global _sink
    flush_logs()  # lines held under the previous configuration go out first
    _sink = sink
    structlog.configure(
        processors=native,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        # Hot-path loggers bind once when the app is built (see AccessLogMiddleware);
        # nothing is cached globally, so reconfiguring (tests, reloads) takes effect.
        cache_logger_on_first_use=False,
    )

    handler = _AfterHeldLines(sys.stdout, sink)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *foreign],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *render],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    sys.excepthook = log_uncaught
