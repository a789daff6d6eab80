import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from landcover_sdk.cli import main

from .conftest import WriteTif


def test_synth_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "synth", str(tmp_path), "--tiles", "2", "--size", "128", "--seed", "3"]) == 0
    assert main(["data", "check", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "synth_000" in out and "EPSG:26917" in out and "2 of 2 pair(s) valid" in out


def test_check_reports_invalid_pairs(write_tif: WriteTif, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tif("a_NAIP.tif", np.zeros((4, 16, 16), np.uint8))
    write_tif("a_LandCover.tif", np.ones((16, 16), np.uint8))
    write_tif("b_NAIP.tif", np.zeros((3, 16, 16), np.uint8))
    write_tif("b_LandCover.tif", np.ones((16, 16), np.uint8))
    assert main(["data", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "1 of 2 pair(s) valid" in out and "imagery has 3 band(s)" in out


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "landcover_sdk", "data", "check", str(tmp_path / "missing")],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"landcover: error: {tmp_path / 'missing'}: not a folder"]
    proc = subprocess.run(
        [sys.executable, "-m", "landcover_sdk", "data", "synth", str(tmp_path), "--size", "-4"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "size" in proc.stderr


def test_version() -> None:
    proc = subprocess.run([sys.executable, "-m", "landcover_sdk", "--version"],
                          capture_output=True, text=True, check=True)
    assert proc.stdout.startswith("landcover-sdk ")
