"""A prediction output of your own: per-class pixel counts as CSV, written beside (or instead of) the class COG.

One file, one registration. An output is a small spec (a frozen dataclass with the path) that builds a *sink*: the
sink is entered before the first block, takes every predicted block, and publishes its file when left cleanly.
Remote paths (``az://container/counts.csv``) need nothing extra: the predictor stages the file locally and
uploads it when the sink has published it. Use it from Python::

    predictor.predict_raster("tile.tif", "classes.tif", outputs=[PixelCountsOutput("counts.csv")])

or register the kind and name it on the command line::

    OUTPUTS.register("pixel-counts", PixelCountsOutput)
    # landcover predict MODEL tile.tif classes.tif --output pixel-counts=counts.csv

From your own package, an entry point registers it without an import::

    [project.entry-points."landcover_sdk.outputs"]
    pixel-counts = "my_package.pixel_count_output:PixelCountsOutput"
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import ClassVar

import numpy as np

from landcover_sdk import StorageError
from landcover_sdk.config.schemes import ClassScheme
from landcover_sdk.inference import OUTPUTS, BlockPrediction, FileOutput, OutputContext, Sink


class PixelCounts:
    """The sink: counts each class's pixels, block by block, and writes ``class_id,name,pixels`` rows."""

    needs_probabilities = False  # class ids are enough: no softmax is computed for this sink
    writes_files = False  # add() only counts, so it runs on the compute thread

    def __init__(self, path: str | Path, scheme: ClassScheme) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():  # checked before any pixel is computed
            raise StorageError(f"{self.path}: output folder {self.path.parent} does not exist")
        self.scheme = scheme
        self.counts = np.zeros(256, dtype=np.int64)

    def __enter__(self) -> PixelCounts:
        return self

    def add(self, prediction: BlockPrediction) -> None:
        """Count one block's class ids."""
        self.counts += np.bincount(prediction.classes.ravel(), minlength=256)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None:
            return  # nothing is published for a failed prediction
        rows = ["class_id,name,pixels"] + [f"{c.id},{c.name},{self.counts[c.id]}" for c in self.scheme.classes]
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(rows) + "\n")
        os.replace(tmp, self.path)  # atomic: a reader never sees half a file


@dataclass(frozen=True)
class PixelCountsOutput(FileOutput):
    """Per-class pixel counts as CSV (``result.outputs["pixel-counts"]``)."""

    kind: ClassVar[str] = "pixel-counts"

    def build(self, ctx: OutputContext) -> Sink:
        """The counting sink."""
        return PixelCounts(self.path, ctx.scheme)


OUTPUTS.register(PixelCountsOutput.kind, PixelCountsOutput)
