"""Each promised variant renders and passes its own checks, run as its README says."""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness import render, run, uv_environment, warm_uv_cache
from .variants import VARIANT_IDS, VARIANTS, Variant

# The rendered README tells users exactly these; the harness runs exactly these.
INSTALL = ["uv", "sync"]
CHECK = ["uv", "run", "just", "check"]


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_IDS)
def test_variant_passes_its_own_checks(
    variant: Variant, template: Path, shared_dir: Path, tmp_path: Path
) -> None:
    warm_uv_cache(template, shared_dir, variant.python_version)
    project = render(template, tmp_path / variant.name, variant.answers)

    readme = (project / "README.md").read_text()
    assert " ".join(INSTALL) in readme
    assert " ".join(CHECK) in readme

    env = uv_environment(variant.python_version, offline=True)
    run(INSTALL, project, env)
    output = run(CHECK, project, env)
    assert " passed" in output
    assert " failed" not in output
    assert " skipped" not in output  # the security suite never skips
