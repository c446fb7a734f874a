"""The variants the template promises to support: the one list every template test uses.

A variant is a name and the answers that differ from the defaults. Every
framework runs on every server, and every choice of every question appears in
some variant (``test_variants_cover_every_choice``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Variant:
    name: str
    answers: dict[str, Any] = field(default_factory=dict)

    @property
    def python_version(self) -> str:
        return str(self.answers.get("python_version", "3.13"))


# Every option that adds code, on at once (later issues add theirs here).
EVERYTHING: dict[str, Any] = {
    "rate_limit_storage": "redis",
    "auth_methods": ["api_key", "bearer", "jwt"],
    "grpc": True,
    "sentry": True,
    "opentelemetry": True,
}

VARIANTS: tuple[Variant, ...] = (
    Variant("default"),  # fastapi + granian + memory store, Python 3.13
    Variant(
        "fastapi-uvicorn-py312",
        {
            "project_name": "Orders API",
            "python_version": "3.12",
            "license": "Apache-2.0",
            "server": "uvicorn",
            "auth_methods": ["bearer"],
        },
    ),
    Variant(
        "fastapi-hypercorn-py311",
        {
            "project_name": "Billing Gateway",
            "package_name": "billing_gw",
            "python_version": "3.11",
            "license": "MIT",
            "server": "hypercorn",
        },
    ),
    Variant(
        "litestar-granian",
        {"framework": "litestar", "license": "BSD-3-Clause", "auth_methods": ["jwt"]},
    ),
    Variant(
        "litestar-uvicorn-py311",
        {
            "framework": "litestar",
            "server": "uvicorn",
            "python_version": "3.11",
            "kubernetes": False,
            "metrics": False,  # metrics are on by default (so in every other variant)
        },
    ),
    Variant(
        "litestar-hypercorn-py312",
        {
            "framework": "litestar",
            "server": "hypercorn",
            "python_version": "3.12",
            "project_slug": "edge-svc",
            "grpc": True,  # gRPC on the memory store (the everything variants use Redis)
        },
    ),
    Variant("quart-granian-py312", {"framework": "quart", "python_version": "3.12"}),
    Variant(
        "quart-uvicorn",
        {"framework": "quart", "server": "uvicorn", "auth_methods": ["api_key", "bearer"]},
    ),
    Variant(
        "quart-hypercorn-py311",
        {"framework": "quart", "server": "hypercorn", "python_version": "3.11"},
    ),
    Variant("fastapi-everything", {"framework": "fastapi", **EVERYTHING, "database": "postgresql"}),
    Variant(
        "litestar-everything", {"framework": "litestar", **EVERYTHING, "database": "postgresql"}
    ),
    Variant(
        "quart-everything-py311", {"framework": "quart", "python_version": "3.11", **EVERYTHING}
    ),
)

VARIANT_IDS = [variant.name for variant in VARIANTS]
