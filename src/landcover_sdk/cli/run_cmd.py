"""``landcover run JOB.yaml``, ``landcover job exec`` (what nodes run), ``landcover job status|logs|teardown`` (any
runner that is :class:`~landcover_sdk.runners.Inspectable`) and ``landcover azure pool-template`` (with ``landcover
azure status|logs|teardown`` kept as aliases for the ``azure-batch`` runner)."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import RunnerError

if TYPE_CHECKING:
    from ..runners import Inspectable

log = logging.getLogger(__name__)


class _RunnerKinds:
    """``--runner`` choices: the registered kinds, looked up only when a command line is checked or help printed."""

    def __contains__(self, kind: object) -> bool:
        from ..runners import RUNNERS

        return kind in RUNNERS

    def __iter__(self) -> Iterator[str]:
        from ..runners import runner_kinds

        return iter(runner_kinds())


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run``, ``job`` and ``azure``."""
    run = sub.add_parser("run", help="run a job file (train / predict / evaluate) here or on Azure Batch")
    run.add_argument("job", type=Path, help="job description (YAML), see JobSpec")
    run.add_argument("--runner", choices=_RunnerKinds(), default=None, metavar="KIND",
                     help="where to run: a registered runner kind, e.g. local or azure-batch (default: the runner "
                          "config's kind, else local)")
    run.add_argument("--runner-config", type=Path, default=None,
                     help="runner config YAML (kind, work_dir and the kind's own settings: pool, image, accounts)")
    run.add_argument("--dry-run", action="store_true",
                     help="print what would run (azure-batch: the request bodies), run and send nothing")
    run.add_argument("--work-dir", type=Path, default=None, help="local state and logs (default runs/jobs)")
    run.add_argument("--job-id", default=None, help="job id (default: name + timestamp)")
    run.add_argument("--teardown", action="store_true", help="azure-batch: delete the job afterwards")
    run.set_defaults(handler=_run)

    job = sub.add_parser("job", help="job internals")
    jsub = job.add_subparsers(dest="job_command", metavar="SUBCOMMAND", required=True)
    ex = jsub.add_parser("exec", help="run one task of a job on this node (what runners launch)")
    ex.add_argument("job", type=Path)
    ex.add_argument("--task", default="0/1", help="INDEX/COUNT of the task (default 0/1)")
    ex.add_argument("--work-dir", type=Path, default=Path("work"))
    ex.add_argument("--no-progress", action="store_true")
    ex.set_defaults(handler=_exec)
    up = jsub.add_parser("upload-log", help="upload a node's log under the job's outputs (_logs/NAME)")
    up.add_argument("file", type=Path, help="the log file")
    up.add_argument("job", type=Path, help="the job file (names the outputs)")
    up.add_argument("--as", dest="name", required=True, help="name under <outputs>/_logs/, e.g. train/node-1.log")
    up.set_defaults(handler=_upload_log)
    _inspection_commands(jsub, forced_kind=None)

    az = sub.add_parser("azure", help="Azure Batch: the pool template; status|logs|teardown as aliases of "
                                      "'landcover job ...' with the azure-batch runner")
    asub = az.add_subparsers(dest="azure_command", metavar="SUBCOMMAND", required=True)
    _inspection_commands(asub, forced_kind="azure-batch")
    p = asub.add_parser("pool-template", help="print the Resource Manager body of the pool a job file needs, with the "
                                              "nodes' identity (for az rest --method put)")
    p.add_argument("job", type=Path, help="job description (YAML)")
    p.add_argument("--runner-config", type=Path, default=None)
    p.set_defaults(handler=_pool_template)


def _inspection_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], *, forced_kind: str | None) -> None:
    """``status``, ``logs`` and ``teardown`` under ``sub``; ``forced_kind`` pins the runner (the ``azure`` alias)."""
    for name, helptext, fn in (("status", "job and task states", _status), ("logs", "a task's stdout/stderr", _logs),
                               ("teardown", "delete a job, and with --pool the pool (idempotent)", _teardown)):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("job_id", nargs="?" if name == "teardown" else None)
        p.add_argument("--runner-config", type=Path, default=None)
        if forced_kind is None:
            p.add_argument("--runner", choices=_RunnerKinds(), default=None, metavar="KIND",
                           help="the runner that ran the job (default: the runner config's kind, else local)")
        if name == "logs":
            p.add_argument("--task", required=True)
            p.add_argument("--stderr", action="store_true")
        if name == "teardown":
            p.add_argument("--pool", action="store_true", help="also delete the pool")
        p.set_defaults(handler=fn, forced_kind=forced_kind)


def _runner_config(path: Path | None, kind: str | None = None, work_dir: Path | None = None) -> Any:
    from ..runners import load_runner_config, runner_config

    wd = str(work_dir) if work_dir is not None else None
    return load_runner_config(path, kind=kind, work_dir=wd) if path else runner_config(kind=kind, work_dir=wd)


def _run(args: argparse.Namespace) -> int:
    from ..runners import JobSpec, make_runner

    spec = JobSpec.load(args.job)
    cfg = _runner_config(args.runner_config, args.runner, args.work_dir)
    runner = make_runner(cfg, dry_run=args.dry_run, teardown=args.teardown)
    if args.dry_run:
        print(json.dumps(runner.describe(spec, job_id=args.job_id), indent=2))
        return 0
    result = runner.run(spec, job_id=args.job_id)
    print(result.to_json())
    result.raise_for_state()
    return 0


def _exec(args: argparse.Namespace) -> int:
    from ..runners import JobSpec
    from ..runners.worker import execute

    urls = execute(JobSpec.load(args.job), args.task, args.work_dir, progress=not args.no_progress)
    for url in urls:
        log.info("wrote %s", url)
    return 0


def _upload_log(args: argparse.Namespace) -> int:
    from ..runners import JobSpec
    from ..storage import StorageURL, get_storage

    if not args.file.is_file():
        raise RunnerError(f"{args.file}: no such log file")
    url = str(StorageURL.parse(JobSpec.load(args.job).outputs).join("_logs", args.name))
    get_storage(url).upload(args.file, url)
    log.info("uploaded %s to %s", args.file, url)
    return 0


def _inspectable(args: argparse.Namespace) -> Inspectable:
    from ..runners import Inspectable, make_runner

    cfg = _runner_config(args.runner_config, args.forced_kind or getattr(args, "runner", None))
    runner = make_runner(cfg)
    if not isinstance(runner, Inspectable):
        raise RunnerError(f"runner {cfg.kind!r} keeps no jobs to inspect (its jobs end inside 'landcover run')")
    return runner


def _status(args: argparse.Namespace) -> int:
    print(json.dumps(_inspectable(args).status(args.job_id), indent=2))
    return 0


def _logs(args: argparse.Namespace) -> int:
    name = "stderr.txt" if args.stderr else "stdout.txt"
    print(_inspectable(args).logs(args.job_id, args.task, name), end="")
    return 0


def _pool_template(args: argparse.Namespace) -> int:
    from ..runners import BatchAIRunner, JobSpec

    runner = BatchAIRunner(_runner_config(args.runner_config, "azure-batch"), dry_run=True)
    print(json.dumps(runner.pool_template(JobSpec.load(args.job)), indent=2))
    return 0


def _teardown(args: argparse.Namespace) -> int:
    removed = _inspectable(args).teardown(args.job_id, delete_pool=bool(args.pool))
    print("deleted: " + (", ".join(removed) if removed else "nothing"))
    return 0
