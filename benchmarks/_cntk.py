"""Locate and run the CNTK 2.7 reference environment (../shared/tools/cntk-reference/setup.sh)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TOOLS = SHARED / "tools" / "cntk-reference"


def cntk_env() -> tuple[Path, Path] | None:
    """(python, shim folder) of the reference environment, or None when it was not built."""
    root = Path(os.environ.get("LANDCOVER_CNTK_ENV", Path.home() / ".cache" / "cntk-reference"))
    python, shim = root / "venv" / "bin" / "python", root / "shim"
    return (python, shim) if python.exists() and shim.exists() else None


def run_tool(script: str, *args: str, timeout: float = 3600) -> str | None:
    """Run one of the shared CNTK timing scripts; its stdout, or None without the environment."""
    env = cntk_env()
    if env is None:
        return None
    python, shim = env
    proc = subprocess.run([str(python), "-W", "ignore", str(TOOLS / script), *args], capture_output=True, text=True,
                          env={**os.environ, "LD_LIBRARY_PATH": str(shim)}, timeout=timeout, check=False)
    return proc.stdout if proc.returncode == 0 else None


def number(pattern: str, text: str | None) -> float | None:
    """The first float captured by ``pattern`` in ``text``."""
    if not text:
        return None
    m = re.search(pattern, text)
    return float(m.group(1)) if m else None
