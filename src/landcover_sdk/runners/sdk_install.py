"""How cloud nodes get this SDK: a wheel built from the checkout (or given), or a pip requirement, installed once
per SDK version and node into a shared venv. Used by every runner whose tasks run on machines it does not own."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

from .._version import __version__
from ..config.models import RunnerConfig
from ..errors import RunnerError
from .spec import JobSpec

log = logging.getLogger(__name__)


def venv_dir() -> str:
    """The node folder of this SDK version's venv (shared by the node's jobs)."""
    return f"$AZ_BATCH_NODE_SHARED_DIR/landcover-sdk/{__version__}"


def wheel_name() -> str:
    """The file name ``pip wheel`` gives this version's pure-Python wheel."""
    return f"landcover_sdk-{__version__}-py3-none-any.whl"


def _checkout() -> Path | None:
    """The source checkout this SDK runs from (an editable install), or ``None``."""
    root = Path(__file__).resolve().parents[3]
    project = root / "pyproject.toml"
    if project.is_file() and 'name = "landcover-sdk"' in project.read_text(encoding="utf-8"):
        return root
    return None


def build_wheel(out_dir: Path, wheel: str | None = None) -> Path:
    """The wheel the nodes install: ``wheel`` as given, else one built from this checkout with ``pip wheel``.

    Args:
        out_dir: where to build.
        wheel: an existing wheel file (``RunnerConfig.sdk_wheel``).
    """
    import subprocess
    import sys

    if wheel:
        path = Path(wheel)
        if not (path.is_file() and path.suffix == ".whl"):
            raise RunnerError(f"sdk_wheel: {wheel} is not a wheel file")
        return path
    root = _checkout()
    if root is None:
        raise RunnerError("this landcover-sdk was not installed from a checkout, so no wheel can be built for the "
                          "nodes: set the runner's sdk_wheel (a wheel file) or sdk_requirement (a requirement your "
                          "nodes can install, e.g. from your own package feed)")
    log.info("building the SDK wheel for the nodes from %s", root)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                           "-w", str(out_dir), str(root)], capture_output=True, text=True, check=False)
    built = out_dir / wheel_name()
    if proc.returncode != 0 or not built.is_file():
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise RunnerError(f"could not build the SDK wheel from {root}: {tail}")
    return built


def sdk_install(spec: JobSpec, config: RunnerConfig, spec_url: str) -> dict[str, str]:
    """How the nodes get landcover-sdk for this job (what ``--dry-run`` shows as ``sdk_install``).

    Args:
        spec: the job.
        config: the runner configuration (``sdk_wheel``, ``sdk_requirement``).
        spec_url: where its job file is uploaded (the wheel goes beside it).
    """
    if spec.container_image:
        return {"method": "container image", "image": spec.container_image}
    if config.sdk_requirement:
        return {"method": "pip requirement", "requirement": config.sdk_requirement,
                "venv": venv_dir()}
    name = Path(config.sdk_wheel).name if config.sdk_wheel else wheel_name()
    source = config.sdk_wheel or f"built at submit from the checkout {_checkout() or '(none found)'}"
    wheel_url = f"{spec_url.removesuffix('.yaml')}/{name}"  # beside the job file: <outputs>/_job/<job id>/
    return {"method": "wheel", "wheel": name, "source": source, "uploaded_to": wheel_url, "venv": venv_dir()}


def install_script(venv: str, steps: str) -> str:
    """The bash script that creates ``venv`` once per node (under a lock shared by the node's jobs) and runs
    ``steps`` (the pip installs) in it.

    Args:
        venv: the node's venv folder (:func:`venv_dir`).
        steps: the install commands.
    """
    # one venv per SDK version and node, shared by the node's jobs; flock keeps two jobs from building it at once
    return (f'set -euo pipefail; mkdir -p "$(dirname "{venv}")"; exec 9>"{venv}.lock"; flock 9; '
            f'[ -x "{venv}/bin/python" ] || python3 -m venv "{venv}"; {steps}')


def pip_steps(install: dict[str, str], wheel_path: str | None = None) -> str:
    """The pip commands that install the SDK into ``install["venv"]``.

    Args:
        install: what :func:`sdk_install` returned (method ``wheel`` or ``pip requirement``).
        wheel_path: where the wheel lies on the node (method ``wheel``).
    """
    venv = install["venv"]
    if install["method"] == "wheel":
        # double quotes: no nested single quotes in a command line (how the node agent splits those is
        # undocumented); blob names of job files and wheels hold no characters special inside them
        return (f'"{venv}/bin/python" -m pip install --quiet "{wheel_path}[train,azure,stac]" && '
                f'"{venv}/bin/python" -m pip install --quiet --force-reinstall --no-deps "{wheel_path}"')
    return f'"{venv}/bin/python" -m pip install --quiet {shlex.quote(install["requirement"])}'
