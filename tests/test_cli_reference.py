"""docs/cli.md is what the parser says: regenerate it with ``python tools/gen_cli_reference.py``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_cli_reference.py"), "--check"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_cli_reference_lists_every_registered_runner_and_output() -> None:
    from landcover_sdk.inference import OUTPUTS
    from landcover_sdk.runners import runner_kinds

    page = (ROOT / "docs" / "cli.md").read_text()
    for name in [*runner_kinds(), *OUTPUTS.names()]:
        assert name in page, f"docs/cli.md does not mention {name!r}"
