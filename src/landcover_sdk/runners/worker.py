"""What runs on a node: ``landcover job exec JOB.yaml --task i/n`` (the same under every runner).

It stages inputs from storage, runs the training / prediction / evaluation, and writes its
outputs under the job's ``outputs`` URL. Under torchrun every rank runs it; rank 0 uploads.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path

from ..config.region import Region
from ..data.dataset import strip_image_suffix
from ..data.windows import PixelWindow
from ..errors import RunnerError
from ..models.builtin import resolve_model
from ..storage import StorageURL, fetch_to_cache, get_storage
from .spec import JobSpec

log = logging.getLogger(__name__)


def output_url(spec: JobSpec, name: str) -> str:
    """The URL of output ``name`` (a relative path) under the job's outputs."""
    return str(StorageURL.parse(spec.outputs).join(name))


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def stage_folder(url: str, dest: Path) -> Path:
    """A local folder holding the objects under ``url`` (downloaded once per node; local URLs as they are).

    Processes of one node share the download: the first takes a lock and downloads, the others
    wait and reuse it.
    """
    store = get_storage(url)
    local = store.local_path(url)
    if local is not None:
        return local
    prefix = url if url.endswith("/") else url + "/"
    with _folder_lock(dest):
        if not (dest / ".complete").exists():
            objects = store.list(prefix)
            log.info("staging %d object(s) from %s", len(objects), url)
            for obj in objects:
                rel = obj[len(prefix):]
                store.download(obj, dest / rel)
            (dest / ".complete").write_text("\n".join(objects))
    return dest


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


def _train(spec: JobSpec, work_dir: Path, *, progress: bool) -> list[str]:
    from ..training.trainer import Trainer

    rank = int(os.environ.get("RANK", "0"))
    data_url = str(spec.inputs["data"])
    data_dir = stage_folder(data_url, work_dir / "data")
    init = spec.inputs.get("init_from")
    init_local = str(fetch_to_cache(str(resolve_model(str(init))))) if init is not None else None
    out_dir = work_dir / "output"
    cfg = spec.train_config(data_root=str(data_dir), output_dir=str(out_dir), init_from=init_local)
    # A retried task finds the checkpoints of the killed attempt when it runs on the same node.
    resume = (out_dir / "checkpoints").is_dir() and any((out_dir / "checkpoints").iterdir())
    result = Trainer(cfg).fit(resume=resume, progress=progress)
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
    for image in images:
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
    from ..inference.predictor import Predictor

    predictor = Predictor.from_file(str(spec.inputs["model"]), config=spec.predict_config())
    mine = prediction_items(spec)[index::count]
    log.info("task %d/%d: %d prediction item(s)", index, count, len(mine))
    urls = []
    want_probabilities = predictor.config.probabilities
    for image, window, name in mine:
        url = output_url(spec, name)
        prob_url = output_url(spec, name.replace("_classes.tif", "_probabilities.tif")) if want_probabilities else None
        for u in (url, prob_url):
            if u is not None:
                _ensure_local_parent(u)
        region = Region.from_window(window) if window is not None else spec.region
        predictor.predict_raster(image, url, probabilities=prob_url, region=region, progress=progress)
        urls += [u for u in (url, prob_url) if u is not None]
    return urls


def _evaluate(spec: JobSpec, *, progress: bool) -> list[str]:
    from ..inference.predictor import Predictor

    predictor = Predictor.from_file(str(spec.inputs["model"]), config=spec.predict_config())
    names = {"dst": "classes.tif", "report": "report.json", "figure": "comparison.png"}
    if predictor.config.probabilities:
        names["probabilities"] = "probabilities.tif"
    urls = {k: output_url(spec, v) for k, v in names.items()}
    for url in urls.values():
        _ensure_local_parent(url)
    result = predictor.predict_raster(str(spec.inputs["image"]), urls["dst"], labels=str(spec.inputs["labels"]),
                                      probabilities=urls.get("probabilities"), report=urls["report"],
                                      figure=urls["figure"], region=spec.region,
                                      progress=progress)
    if result.evaluation is not None:
        log.info("evaluation: pixel accuracy %.4f, mean true-label probability %s", result.evaluation.accuracy,
                 result.evaluation.mean_true_probability)
    return list(urls.values())


def _ensure_local_parent(url: str) -> None:
    local = get_storage(url).local_path(url)
    if local is not None:
        local.parent.mkdir(parents=True, exist_ok=True)
