"""The metrics endpoint: served by the supervising process, on a port of its own.

``python -m`` enters :func:`serving_metrics` before it starts the server: a
private directory (mode 0700) becomes ``PROMETHEUS_MULTIPROC_DIR`` for every
process it starts, and a thread serves the sum over the processes'
files on ``METRICS_HOST:METRICS_PORT`` (never on the API's port). Live gauges
(in flight, streams open, circuit state) of a worker that died are dropped at
the next scrape; its counters stay counted. On exit the directory is removed,
also when the exit deadline kills the process (``supervisor.removed_on_forced_exit``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, cast

import structlog

from ..settings import Settings
from ..supervisor import removed_on_forced_exit
from . import MULTIPROC_ENV

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.multiprocess import MultiProcessCollector
    from prometheus_client.registry import Collector

__all__ = ["forget_dead_processes", "serving_metrics"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process now: not ours to judge, keep it
    return True


def forget_dead_processes(directory: Path) -> list[int]:
    """Drop the live gauges of processes that ended (a worker killed and replaced)."""
    from prometheus_client.multiprocess import mark_process_dead

    dead = set()
    for path in directory.glob("gauge_live*_*.db"):
        number = path.stem.rpartition("_")[2]
        if number.isdigit() and not _alive(int(number)):
            dead.add(int(number))
    for pid in dead:
        mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
    return sorted(dead)


class _Reaping:
    """The multiprocess collector, after dead processes' live gauges are dropped."""

    def __init__(self, directory: Path, collector: MultiProcessCollector) -> None:
        self.directory = directory
        self.collector = collector

    def collect(self) -> Iterable[Metric]:
        forget_dead_processes(self.directory)
        metrics: Iterable[Metric] = self.collector.collect()  # type: ignore[no-untyped-call]
        return metrics


@contextmanager
def serving_metrics(settings: Settings) -> Iterator[Path | None]:
    """Serve the metrics for the block (the server's lifetime); yields the directory or None.

    Nothing is served (and nothing recorded) with ``METRICS_DISABLED``. The caller
    has checked that the port is free (``__main__.port_problem``).
    """
    if settings.metrics_disabled:
        os.environ.pop(MULTIPROC_ENV, None)  # a stale one must not switch workers on
        yield None
        return
    try:
        directory = Path(tempfile.mkdtemp(prefix="metrics-"))  # private: 0700, fresh each run
    except OSError as error:  # no writable temporary directory: no metrics, said once
        os.environ.pop(MULTIPROC_ENV, None)
        structlog.get_logger().bind(logger=__name__).error(
            "metrics_unavailable",
            detail="no writable temporary directory (TMPDIR, /tmp) for prometheus-client's "
            "multiprocess files: metrics are not served; mount a small tmpfs at /tmp",
            error=error.strerror,
        )
        yield None
        return
    os.environ[MULTIPROC_ENV] = str(directory)
    remove = partial(shutil.rmtree, directory, ignore_errors=True)
    with ExitStack() as cleanup:
        cleanup.callback(remove)
        cleanup.enter_context(removed_on_forced_exit(remove))
        # Imported only now: prometheus_client picks its multiprocess mode at import.
        from prometheus_client import CollectorRegistry, start_http_server
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        files = MultiProcessCollector(None, str(directory))  # type: ignore[no-untyped-call]
        collector = _Reaping(directory, files)
        registry.register(cast("Collector", collector))
        server, thread = start_http_server(
            settings.metrics_port, addr=settings.metrics_host, registry=registry
        )
        try:
            yield directory
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=1)
