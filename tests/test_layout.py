"""The package's stages import only the stages to their left (docs: STYLE, "The shape of the package")."""

import subprocess
import sys

import pytest


def _imported_after(statement):
    code = f"import sys\n{statement}\nprint(' '.join(sorted(m for m in sys.modules if m.startswith('crclean'))))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


@pytest.mark.parametrize("stage, later", [
    ("crclean.tiling", {"crclean.models", "crclean.engine", "crclean.inpaint", "crclean.lenses"}),
    ("crclean.engine", {"crclean.inpaint", "crclean.lenses", "crclean.clean", "crclean.cli"}),
    ("crclean.inpaint._learned", {"crclean.lenses", "crclean.clean", "crclean.cli"}),
])
def test_a_stage_never_imports_a_later_one(stage, later):
    imported = _imported_after(f"import {stage}")
    assert not {name for name in imported if name.split(".")[:2] in [item.split(".") for item in later]}


def test_nothing_at_run_time_imports_training_or_experiments():
    imported = _imported_after("import crclean.cli, crclean.clean, crclean.lenses._finder, crclean.lenses._batch, "
                               "crclean.inpaint._learned, crclean._dask")
    assert not any(name.startswith("crclean.training") for name in imported)
    assert "crclean.models._lens_vetter" not in imported
