"""Lay out a Batch task on emulated compute nodes exactly as the service documents, then run its command lines.

From the REST reference and "Azure Batch runtime environment variables":

* a resource file from a container (``autoStorageContainerName`` / ``storageContainerUrl`` + ``blobPrefix``) lands at
  ``<working dir>/<filePath>/<full blob name>`` — every blob whose name starts with the prefix, folders kept; an
  ``httpUrl`` file lands at ``<working dir>/<filePath>``;
* a multi-instance task's ``resourceFiles`` reach the primary node only; its ``commonResourceFiles`` reach every
  node, relative to ``$AZ_BATCH_TASK_SHARED_DIR``;
* the coordination command runs on every node, then the application command on the primary, each in its task's
  working directory; Batch runs no shell itself: a command line is split into arguments and executed.

``python3`` on the nodes is a stand-in that records its working directory and the job file it was given and
fails unless that file exists (``job exec FILE``), so a test sees whether each command finds its job file.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PYTHON_STUB = """#!/bin/bash
job=""; prev=""
for a in "$@"; do [ "$prev" = exec ] && job="$a"; prev="$a"; done
if [ -f "$job" ]; then found=yes; else found=no; fi
echo "$AZ_BATCH_NODE_ID|$PWD|$job|$found" >> "$LC_NODE_RECORD"
[ "$found" = yes ]
"""


@dataclass
class Run:
    """One ``python3`` call on a node: where, with which job file, and whether that file existed."""

    node: str
    cwd: str
    job_file: str
    found: bool


def _place(files: list[dict[str, Any]], base: Path, blobs: dict[str, bytes]) -> None:
    for rf in files:
        target = base / rf.get("filePath", "")
        if "httpUrl" in rf:
            target.parent.mkdir(parents=True, exist_ok=True)
            name = rf["httpUrl"].split("?")[0].rsplit("/", 1)[-1]
            target.write_bytes(blobs[name])
            continue
        prefix = rf.get("blobPrefix", "")
        for name, data in blobs.items():
            if name.startswith(prefix):
                path = target / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)


def run_on_nodes(task: dict[str, Any], blobs: dict[str, bytes], root: Path, job_id: str = "job-1") -> list[Run]:
    """Materialise ``task`` on its nodes under ``root`` and run its command lines; the ``python3`` calls made.

    Args:
        task: a task body as sent to Batch.
        blobs: the container's blobs (full name -> bytes) that resource files may name.
        root: a fresh folder for the nodes.
        job_id: the Batch job id.
    """
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True)
    stub = bin_dir / "python3"
    stub.write_text(PYTHON_STUB)
    stub.chmod(0o755)
    record = root / "calls.txt"
    record.touch()
    multi = task.get("multiInstanceSettings")
    count = int(multi["numberOfInstances"]) if multi else 1
    procs = []
    for i in range(count):
        node = f"tvmps_{i:04d}"
        task_dir = root / node / "workitems" / job_id / "job-1" / task["id"]
        wd = task_dir / "wd"
        wd.mkdir(parents=True)
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(root / node), "LC_NODE_RECORD": str(record),
               "AZ_BATCH_NODE_ID": node, "AZ_BATCH_JOB_ID": job_id, "AZ_BATCH_TASK_ID": task["id"],
               "AZ_BATCH_TASK_WORKING_DIR": str(wd), "AZ_BATCH_TASK_SHARED_DIR": str(task_dir),
               "AZ_BATCH_NODE_ROOT_DIR": str(root / node), "AZ_BATCH_MASTER_NODE": "10.0.0.4:6000",
               "AZ_BATCH_HOST_LIST": ",".join(f"10.0.0.{4 + k}" for k in range(count)),
               "AZ_BATCH_IS_CURRENT_NODE_MASTER": "true" if i == 0 else "false"}
        if multi:
            _place(multi.get("commonResourceFiles", []), task_dir, blobs)
        if i == 0:
            _place(task.get("resourceFiles", []), wd, blobs)
        if multi and multi.get("coordinationCommandLine"):
            subprocess.run(shlex.split(multi["coordinationCommandLine"]), cwd=wd, env=env, check=False, timeout=60)
        procs.append((i, wd, env))
    primary_wd, primary_env = procs[0][1], procs[0][2]
    subprocess.run(shlex.split(task["commandLine"]), cwd=primary_wd, env=primary_env, check=False, timeout=60)
    deadline = time.monotonic() + 10  # background agents the coordination command started
    while time.monotonic() < deadline and len(record.read_text().splitlines()) < count:
        time.sleep(0.05)
    runs = []
    for line in record.read_text().splitlines():
        node, cwd, job_file, found = line.split("|")
        runs.append(Run(node, cwd, job_file, found == "yes"))
    return sorted(runs, key=lambda r: r.node)
