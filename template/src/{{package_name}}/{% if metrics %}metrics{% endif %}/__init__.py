"""Prometheus metrics: what the core reports (security/observe.py), counted per process.

``python -m`` creates a private multiprocess directory before the server starts
and serves every process's counts, summed, on ``METRICS_HOST:METRICS_PORT``
(:mod:`.exporter`); each worker records into it (:mod:`.recorder`). Nothing is
recorded in a process that no exporter reads.
"""

from __future__ import annotations

import os

from ..settings import Settings

__all__ = ["MULTIPROC_ENV", "record_if_exported"]

# prometheus_client's own variable: where each process writes its counts.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def record_if_exported(settings: Settings) -> None:
    """Install the recorder when an exporter reads this process's counts (``python -m``)."""
    if settings.metrics_disabled or not os.environ.get(MULTIPROC_ENV):
        return
    from ..security.observe import install
    from .recorder import Recorder  # imports prometheus_client: after the check

    install(Recorder())
