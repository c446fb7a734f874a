"""The derived values and validators in extensions/ (plain functions, no Copier needed)."""

from __future__ import annotations

import pytest

from extensions.bulwark import (
    package_name_problem,
    runtime_dependencies,
    slug_problem,
    slugify,
    to_identifier,
)


@pytest.mark.parametrize(
    ("name", "slug"),
    [("My Service", "my-service"), ("Orders API v2!", "orders-api-v2"), ("***", "service")],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug
    assert slug_problem(slug) == ""


@pytest.mark.parametrize(
    ("slug", "identifier"), [("my-service", "my_service"), ("2fa-api", "svc_2fa_api")]
)
def test_to_identifier(slug: str, identifier: str) -> None:
    assert to_identifier(slug) == identifier
    assert package_name_problem(identifier) == ""


def test_dependencies_follow_the_server_answer() -> None:
    deps = runtime_dependencies({"server": "granian"})
    assert any(dep.startswith("granian") for dep in deps)
    assert deps == sorted(deps)


def test_opentelemetry_adds_its_packages_only_when_chosen() -> None:
    def otel(answers: dict[str, object]) -> list[str]:
        return [d for d in runtime_dependencies(answers) if d.startswith("opentelemetry")]

    assert otel({}) == []
    assert otel({"grpc": True}) == []
    http_only = otel({"opentelemetry": True})
    assert any(d.startswith("opentelemetry-instrumentation-asgi") for d in http_only)
    assert not any(d.startswith("opentelemetry-instrumentation-grpc") for d in http_only)
    with_grpc = otel({"opentelemetry": True, "grpc": True})
    assert any(d.startswith("opentelemetry-instrumentation-grpc") for d in with_grpc)
