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
