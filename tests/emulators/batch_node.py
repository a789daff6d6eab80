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
if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python" && exit 0; fi
if [ "$1 $2 $3" = "-m pip install" ]; then
  for a in "$@"; do case "$a" in -*|-m|pip|install) ;; *) spec="$a";; esac; done
  wheel="${spec%%[*}"
  case "$wheel" in *.whl) [ -f "$wheel" ] || { echo "no $wheel" >&2; exit 1; };; esac
  echo "$AZ_BATCH_NODE_ID|pip|$0|$spec" >> "$LC_NODE_RECORD"; exit 0
fi
if [ "$3 $4" = "job upload-log" ]; then
  [ -f "$5" ] && [ -f "$6" ] || exit 1
  echo "$AZ_BATCH_NODE_ID|upload|$5|$8" >> "$LC_NODE_RECORD"; exit 0
fi
job=""; prev=""
for a in "$@"; do [ "$prev" = exec ] && job="$a"; prev="$a"; done
if [ -f "$job" ]; then found=yes; else found=no; fi
echo "$AZ_BATCH_NODE_ID|$PWD|$job|$found|$0" >> "$LC_NODE_RECORD"
[ "$found" = yes ]
"""


@dataclass
class Run:
    """One ``job exec`` on a node: where, with which job file, whether that file existed, which python ran it."""

    node: str
    cwd: str
    job_file: str
    found: bool
    python: str


@dataclass
class Upload:
    """One ``job upload-log`` on a node: which file, under which name."""

    node: str
    file: str
    name: str


@dataclass
class Install:
    """One ``pip install`` on a node: by which python, of what."""

    node: str
    python: str
    spec: str


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


def run_on_nodes(task: dict[str, Any], blobs: dict[str, bytes], root: Path, job: dict[str, Any] | None = None,
                 job_id: str = "job-1") -> tuple[list[Run], list[Install], list[Upload]]:
    """Materialise ``task`` on its nodes under ``root`` and run its command lines (after the job's preparation
    task on each node, as Batch does); the ``job exec`` runs, ``pip install`` and ``job upload-log`` calls made.

    Args:
        task: a task body as sent to Batch.
        blobs: the container's blobs (full name -> bytes) that resource files may name.
        root: a fresh folder for the nodes.
        job: the job body (its ``jobPreparationTask`` runs first on every node).
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
        shared = root / node / "shared"
        shared.mkdir(parents=True)
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(root / node), "LC_NODE_RECORD": str(record),
               "AZ_BATCH_NODE_SHARED_DIR": str(shared),
               "AZ_BATCH_NODE_ID": node, "AZ_BATCH_JOB_ID": job_id, "AZ_BATCH_TASK_ID": task["id"],
               "AZ_BATCH_TASK_WORKING_DIR": str(wd), "AZ_BATCH_TASK_SHARED_DIR": str(task_dir),
               "AZ_BATCH_NODE_ROOT_DIR": str(root / node), "AZ_BATCH_MASTER_NODE": "10.0.0.4:6000",
               "AZ_BATCH_HOST_LIST": ",".join(f"10.0.0.{4 + k}" for k in range(count)),
               "AZ_BATCH_IS_CURRENT_NODE_MASTER": "true" if i == 0 else "false"}
        prep = (job or {}).get("jobPreparationTask")
        if prep:
            prep_wd = root / node / "workitems" / job_id / "job-1" / "jobpreparation" / "wd"
            prep_wd.mkdir(parents=True)
            _place(prep.get("resourceFiles", []), prep_wd, blobs)
            done = subprocess.run(shlex.split(prep["commandLine"]), cwd=prep_wd, env=env, check=False, timeout=60)
            if done.returncode != 0 and prep.get("waitForSuccess"):
                continue  # Batch runs none of the job's tasks on this node
        if multi:
            _place(multi.get("commonResourceFiles", []), task_dir, blobs)
        if i == 0:
            _place(task.get("resourceFiles", []), wd, blobs)
        if multi and multi.get("coordinationCommandLine"):
            subprocess.run(shlex.split(multi["coordinationCommandLine"]), cwd=wd, env=env, check=False, timeout=60)
        procs.append((i, wd, env))
    if procs and procs[0][0] == 0:
        subprocess.run(shlex.split(task["commandLine"]), cwd=procs[0][1], env=procs[0][2], check=False, timeout=60)
    deadline = time.monotonic() + 10  # background agents the coordination command started
    while time.monotonic() < deadline and sum(x.count("|") == 4 for x in record.read_text().splitlines()) < count:
        time.sleep(0.05)
    deadline = time.monotonic() + 10  # then each background agent uploads its log
    while time.monotonic() < deadline and sum("|upload|" in x for x in record.read_text().splitlines()) < count - 1:
        time.sleep(0.05)
    runs, installs, uploads = [], [], []
    for line in record.read_text().splitlines():
        fields = line.split("|")
        if fields[1] == "pip":
            installs.append(Install(fields[0], fields[2], fields[3]))
        elif fields[1] == "upload":
            uploads.append(Upload(fields[0], fields[2], fields[3]))
        else:
            runs.append(Run(fields[0], fields[1], fields[2], fields[3] == "yes", fields[4]))
    return sorted(runs, key=lambda r: r.node), installs, sorted(uploads, key=lambda u: u.node)
