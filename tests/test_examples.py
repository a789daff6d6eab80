"""Every example runs as-is with ``--quick`` (the CI smoke test of examples/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("[0-9][0-9]_*.py"))


def test_all_seven_examples_exist() -> None:
    assert [p.name[:2] for p in EXAMPLES] == ["01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_quick(script: Path, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(script), "--quick"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    out = proc.stdout
    if script.name.startswith("03"):
        assert "pixel accuracy (argmax == label)" in out
        assert (tmp_path / "runs/example-evaluate/soft_labels.png").exists()
    if script.name.startswith("04"):
        assert "speed-up" in out and "multi-instance task over 4 nodes" in out and "--nnodes=4" in out
    if script.name.startswith("05"):
        assert "PNG 256x256 RGBA" in out and "PNG 256x256 P" in out and "torch imported: False" in out
    if script.name.startswith("06"):
        assert "(OK, tolerance 1e-4)" in out
    if script.name.startswith("07"):
        assert "Hard output identical to landcover predict: True" in out
        assert (tmp_path / "runs/example-arcgis/arcgis_panes.png").exists()
        assert (tmp_path / "runs/example-arcgis/tutorial-250epochs.dlpk").exists()
