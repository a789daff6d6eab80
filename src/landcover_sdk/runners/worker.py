"""What runs on a node: ``landcover job exec JOB.yaml --task i/n`` (the same under every runner).

It stages inputs from storage, runs the training / prediction / evaluation, and writes its
outputs under the job's ``outputs`` URL. Under torchrun every rank runs it; rank 0 uploads.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from .._util import flock
from ..config.region import Region
from ..data.dataset import strip_image_suffix
from ..data.windows import PixelWindow
from ..errors import RunnerError
from ..imagery.source import is_spec
from ..models.locate import local_model
from ..storage import StorageURL, get_storage
from .spec import JobSpec

log = logging.getLogger(__name__)


def output_url(spec: JobSpec, name: str) -> str:
    """The URL of output ``name`` (a relative path) under the job's outputs."""
    return str(StorageURL.parse(spec.outputs).join(name))


def upload_folder(folder: Path, spec: JobSpec, under: str = "") -> list[str]:
    """Upload every file below ``folder`` to the job's outputs; returns the URLs.

    Args:
        folder: the local folder.
        spec: the job (its ``outputs`` URL).
        under: a sub-path under the outputs.
    """
    urls = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        rel = path.relative_to(folder).as_posix()
        url = output_url(spec, f"{under}/{rel}" if under else rel)
        get_storage(url).upload(path, url)
        urls.append(url)
    return urls


def _parse_task(task: str) -> tuple[int, int]:
    try:
        index_s, count_s = task.split("/")
        index, count = int(index_s), int(count_s)
    except ValueError:
        raise RunnerError(f"--task {task!r}: expected INDEX/COUNT, e.g. 0/4") from None
    if not 0 <= index < count:
        raise RunnerError(f"--task {task!r}: index must be in 0..{count - 1}")
    return index, count


def execute(spec: JobSpec, task: str, work_dir: Path, *, progress: bool = False) -> list[str]:
    """Run task ``task`` ("INDEX/COUNT") of ``spec`` here; returns the output URLs it wrote.

    Args:
        spec: the job.
        task: ``INDEX/COUNT`` of this task.
        work_dir: this node's working folder (staged inputs, checkpoints).
        progress: show progress bars.
    """
    index, count = _parse_task(task)
    work_dir.mkdir(parents=True, exist_ok=True)
    if spec.kind == "train":
        return _train(spec, work_dir, progress=progress)
    if spec.kind == "predict":
        return _predict(spec, index, count, progress=progress)
    return _evaluate(spec, progress=progress)


CHECKPOINTS = "_checkpoints"  # under the job's outputs: the training's checkpoints while it runs


def restore_checkpoints(spec: JobSpec, out_dir: Path) -> bool:
    """Fill ``out_dir`` from the job's mirrored checkpoints when it has none; whether there is one to resume.

    A retried task may run on another node, or in a fresh working folder: it resumes from the last checkpoint
    the killed attempt mirrored. The processes of a node share the download (folder lock).

    Args:
        spec: the job (its outputs hold ``_checkpoints/``).
        out_dir: the training's local output folder.
    """
    from ..training.checkpoint import list_checkpoints

    local = out_dir / "checkpoints"
    with flock(out_dir / ".lock"):
        if not list_checkpoints(local):
            remote = output_url(spec, CHECKPOINTS) + "/"
            store = get_storage(remote)
            objects = store.list(remote)
            for obj in objects:
                rel = obj[len(remote):]
                store.download(obj, (local if rel != "metrics.jsonl" else out_dir) / rel)
            if objects:
                log.info("restored %d checkpoint file(s) from %s", len(objects), remote)
    return bool(list_checkpoints(local))


def checkpoint_mirror(spec: JobSpec, out_dir: Path) -> Callable[[Path], None]:
    """A ``Trainer.on_checkpoint`` hook keeping ``<outputs>/_checkpoints/`` equal to the local checkpoints.

    New files are uploaded before pruned ones are deleted, so storage always holds a complete checkpoint.

    Args:
        spec: the job.
        out_dir: the training's local output folder (its ``metrics.jsonl`` travels along).
    """
    remote = output_url(spec, CHECKPOINTS) + "/"
    store = get_storage(remote)

    def mirror(folder: Path) -> None:
        present = set(store.list(remote))
        wanted = {remote + p.name: p for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")}
        for url, path in wanted.items():
            if url not in present:
                store.upload(path, url)
        metrics = out_dir / "metrics.jsonl"
        if metrics.exists():
            store.upload(metrics, remote + "metrics.jsonl")
        for url in present - set(wanted) - {remote + "metrics.jsonl"}:
            store.delete(url)

    return mirror


def node_ranks(environ: Mapping[str, str] | None = None) -> tuple[list[int], int]:
    """The ranks of this node's processes and the world size, from torchrun's variables (one process: ``[0], 1``).

    Args:
        environ: the environment (default ``os.environ``).
    """
    env = os.environ if environ is None else environ
    world = int(env.get("WORLD_SIZE", "1"))
    local = int(env.get("LOCAL_WORLD_SIZE", str(world)))
    node = int(env.get("GROUP_RANK", "0"))
    return list(range(node * local, min(world, (node + 1) * local))), world


def stage_training_tiles(spec: JobSpec, dest: Path, environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """The training tile pairs in the dataset's order, this node's shard staged into ``dest``, the rest remote.

    Each rank trains on its shard of the sorted tiles (:func:`~landcover_sdk.data.sampling.shard_tiles`), so
    a node downloads only its ranks' tiles (once, shared by its processes); the others stay URLs that the
    dataset only reads headers and labels of. Local data is used where it is.

    Args:
        spec: the training job.
        dest: this node's staging folder.
        environ: the environment holding torchrun's rank variables (default ``os.environ``).
    """
    from ..data.dataset import discover_pairs
    from ..data.sampling import shard_tiles

    data_url = str(spec.inputs["data"])
    pairs = [(str(p.image), str(p.label)) for p in discover_pairs(data_url)]
    if get_storage(data_url).local_path(data_url) is not None:
        return pairs
    cfg = spec.train_config(data_root=data_url, output_dir=str(dest))
    s = cfg.data.sampling
    ranks, world = node_ranks(environ)
    mine = sorted({i for r in ranks for i in shard_tiles(len(pairs), r, world, max_per_worker=s.max_tiles_per_worker,
                                                          seed=cfg.sampler_seed)})  # as the trainer's sampler
    prefix = data_url.rstrip("/") + "/"
    local = {i: tuple(str(dest / u[len(prefix):]) for u in pairs[i]) for i in mine}
    with flock(dest / ".lock"):
        if not (dest / ".complete").exists():
            log.info("staging %d of %d tile pair(s) (ranks %s) from %s", len(mine), len(pairs), ranks, data_url)
            for i in mine:
                for url, path in zip(pairs[i], local[i], strict=True):
                    get_storage(url).download(url, Path(path))
            (dest / ".complete").write_text("\n".join(pairs[i][0] for i in mine))
    return [(local[i][0], local[i][1]) if i in local else pairs[i] for i in range(len(pairs))]


def _train(spec: JobSpec, work_dir: Path, *, progress: bool) -> list[str]:
    from ..training.trainer import Trainer

    rank = int(os.environ.get("RANK", "0"))
    pairs = stage_training_tiles(spec, work_dir / "data")
    init = spec.inputs.get("init_from")
    init_local = str(local_model(str(init))) if init is not None else None
    out_dir = work_dir / "output"
    cfg = spec.train_config(pairs=pairs, output_dir=str(out_dir), init_from=init_local)
    resume = restore_checkpoints(spec, out_dir)
    result = Trainer(cfg, on_checkpoint=checkpoint_mirror(spec, out_dir)).fit(resume=resume, progress=progress)
    if rank != 0:
        return []
    urls = upload_folder(out_dir, spec)
    log.info("training finished: %s", result.model_path)
    return urls


def _stem(url: str) -> str:
    return strip_image_suffix(StorageURL.parse(url).name)


def prediction_items(spec: JobSpec) -> list[tuple[str, PixelWindow | None, str]]:
    """``(image URL, window or None, output name)`` for every unit of prediction work, in order."""
    from ..data.raster import read_info

    items: list[tuple[str, PixelWindow | None, str]] = []
    images = spec.inputs["images"]
    assert isinstance(images, list)
    naip = [i for i in images if is_spec(i)]
    for image in images:
        if is_spec(image):
            name = "naip" if len(naip) == 1 else f"naip{naip.index(image)}"
            items.append((image, None, f"{name}_classes.tif"))
            continue
        if spec.strip_rows is None:
            items.append((image, None, f"{_stem(image)}_classes.tif"))
            continue
        info = read_info(image)
        for k in range(math.ceil(info.height / spec.strip_rows)):
            r0 = k * spec.strip_rows
            win = PixelWindow(r0, 0, min(spec.strip_rows, info.height - r0), info.width)
            items.append((image, win, f"{_stem(image)}_rows{r0:06d}_classes.tif"))
    return items


def _predict(spec: JobSpec, index: int, count: int, *, progress: bool) -> list[str]:
    from ..inference.outputs import ClassesOutput, Output, ProbabilitiesOutput
    from ..inference.predictor import Predictor

    predictor = Predictor.from_file(str(spec.inputs["model"]), config=spec.predict_config())
    mine = prediction_items(spec)[index::count]
    log.info("task %d/%d: %d prediction item(s)", index, count, len(mine))
    urls = []
    for image, window, name in mine:
        outputs: list[Output] = [ClassesOutput(output_url(spec, name))]
        if predictor.config.probabilities:
            outputs.append(ProbabilitiesOutput(output_url(spec, name.replace("_classes.tif", "_probabilities.tif"))))
        for out in outputs:
            _ensure_local_parent(str(out.path))
        region = Region.from_window(window) if window is not None else spec.region
        result = predictor.predict_raster(image, outputs=outputs, region=region, progress=progress)
        urls += [str(u) for u in result.outputs.values()]
    return urls


def _evaluate(spec: JobSpec, *, progress: bool) -> list[str]:
    from ..inference.outputs import ClassesOutput, FigureOutput, Output, ProbabilitiesOutput, ReportOutput
    from ..inference.predictor import Predictor

    predictor = Predictor.from_file(str(spec.inputs["model"]), config=spec.predict_config())
    outputs: list[Output] = [ClassesOutput(output_url(spec, "classes.tif")),
                             ReportOutput(output_url(spec, "report.json")),
                             FigureOutput(output_url(spec, "comparison.png"))]
    if predictor.config.probabilities:
        outputs.append(ProbabilitiesOutput(output_url(spec, "probabilities.tif")))
    for out in outputs:
        _ensure_local_parent(str(out.path))
    result = predictor.predict_raster(str(spec.inputs["image"]), outputs=outputs, labels=str(spec.inputs["labels"]),
                                      region=spec.region, progress=progress)
    if result.evaluation is not None:
        log.info("evaluation: pixel accuracy %.4f, mean true-label probability %s", result.evaluation.accuracy,
                 result.evaluation.mean_true_probability)
    return [str(out.path) for out in outputs]


def _ensure_local_parent(url: str) -> None:
    local = get_storage(url).local_path(url)
    if local is not None:
        local.parent.mkdir(parents=True, exist_ok=True)
