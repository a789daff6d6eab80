"""Evaluation metrics, accumulated in a streaming way so whole rasters fit in constant memory.

The tutorial's two numbers: the fraction of pixels whose argmax equals the label (pixel
accuracy) and the mean softmax probability of the true label. Added: confusion matrix,
per-class precision, recall, F1 and IoU, mean IoU and pixel counts. Pixels labelled with the
scheme's no-data class are excluded (the tutorial's training metric excluded them too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .._atomic import atomic_write_text
from ..config.schemes import ClassScheme
from ..errors import DataError


def softmax(scores: npt.NDArray[np.floating[Any]], axis: int = 0) -> npt.NDArray[np.float32]:
    """Numerically stable softmax over ``axis`` (float32)."""
    s = np.asarray(scores, dtype=np.float32)
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    out: npt.NDArray[np.float32] = e / e.sum(axis=axis, keepdims=True)
    return out


@dataclass
class ConfusionAccumulator:
    """Streaming confusion matrix and true-label probability sum over many blocks."""

    scheme: ClassScheme
    ignore_nodata: bool = True
    matrix: npt.NDArray[np.int64] = field(init=False)
    prob_sum: float = field(default=0.0, init=False)
    prob_pixels: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        n = self.scheme.num_classes
        self.matrix = np.zeros((n, n), dtype=np.int64)

    def update(
        self,
        labels: npt.NDArray[np.integer[Any]],
        predictions: npt.NDArray[np.integer[Any]] | None = None,
        *,
        scores: npt.NDArray[np.floating[Any]] | None = None,
        probabilities: npt.NDArray[np.floating[Any]] | None = None,
    ) -> None:
        """Add one block: class-id ``labels`` (H, W) and either ``predictions`` (H, W),
        ``scores`` (C, H, W) or ``probabilities`` (C, H, W).

        Args:
            labels: ``(H, W)`` class ids.
            predictions: ``(H, W)`` predicted class ids.
            scores: ``(C, H, W)`` network scores (softmax is applied).
            probabilities: ``(C, H, W)`` class probabilities (also give the true-label probability).
        """
        n = self.scheme.num_classes
        labels = np.asarray(labels)
        if probabilities is None and scores is not None:
            probabilities = softmax(scores, axis=0)
        if probabilities is not None:
            probabilities = np.asarray(probabilities)
            if probabilities.shape != (n, *labels.shape):
                raise DataError(f"scores/probabilities shape {probabilities.shape} does not match labels "
                                f"{labels.shape} with {n} classes")
            if predictions is None:
                predictions = probabilities.argmax(axis=0)
        if predictions is None:
            raise DataError("give predictions, scores or probabilities")
        predictions = np.asarray(predictions)
        if predictions.shape != labels.shape:
            raise DataError(f"predictions shape {predictions.shape} differs from labels shape {labels.shape}")
        if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= n):
            raise DataError(f"labels hold values outside 0..{n - 1}")
        if predictions.size and (int(predictions.min()) < 0 or int(predictions.max()) >= n):
            raise DataError(f"predictions hold values outside 0..{n - 1}")
        valid = np.ones(labels.shape, dtype=bool)
        if self.ignore_nodata and self.scheme.nodata_class is not None:
            valid &= labels != self.scheme.nodata_class
        lab = labels[valid].astype(np.int64)
        pred = predictions[valid].astype(np.int64)
        self.matrix += np.bincount(lab * n + pred, minlength=n * n).reshape(n, n)
        if probabilities is not None:
            p_true = np.take_along_axis(probabilities, labels[None].astype(np.int64), axis=0)[0]
            self.prob_sum += float(p_true[valid].sum(dtype=np.float64))
            self.prob_pixels += int(valid.sum())

    def add_report(self, report: EvaluationReport) -> None:
        """Add the counts of a finished evaluation (e.g. one validation pair of several)."""
        self.matrix += np.asarray(report.confusion, dtype=np.int64)
        if report.mean_true_probability is not None:
            self.prob_sum += report.mean_true_probability * report.pixels
            self.prob_pixels += report.pixels

    def merge(self, other: ConfusionAccumulator) -> None:
        """Add another accumulator's counts (e.g. from another process)."""
        self.matrix += other.matrix
        self.prob_sum += other.prob_sum
        self.prob_pixels += other.prob_pixels

    def report(self) -> EvaluationReport:
        """The metrics of everything accumulated so far."""
        return EvaluationReport.from_matrix(self.matrix, self.scheme, self.prob_sum, self.prob_pixels,
                                            ignore_nodata=self.ignore_nodata)


@dataclass(frozen=True)
class ClassMetrics:
    """Per-class counts and scores.

    Attributes:
        id: class id.
        name: class name.
        pixels: pixels labelled with this class.
        predicted: pixels predicted as this class.
        precision: share of the predicted pixels that are right (``None`` if none predicted).
        recall: share of the labelled pixels found (``None`` if none labelled).
        f1: harmonic mean of precision and recall.
        iou: intersection over union.
    """

    id: int
    name: str
    pixels: int
    predicted: int
    precision: float | None
    recall: float | None
    f1: float | None
    iou: float | None


@dataclass(frozen=True)
class EvaluationReport:
    """Pixel accuracy, mean true-label probability, confusion matrix and per-class metrics.

    Attributes:
        accuracy: share of counted pixels whose predicted class is the label (the tutorial's number).
        mean_true_probability: mean softmax probability of the true label (the tutorial's other number).
        mean_iou: mean IoU over the classes present in the labels (no data excluded).
        pixels: pixels counted (no-data labels excluded).
        confusion: confusion matrix, rows = label, columns = prediction.
        classes: per-class metrics.
        scheme: the class scheme's name.
        ignored_class: the class left out (no data), if any.
    """

    accuracy: float
    mean_true_probability: float | None
    mean_iou: float
    pixels: int
    confusion: list[list[int]]
    classes: list[ClassMetrics]
    scheme: str
    ignored_class: int | None

    @classmethod
    def from_matrix(cls, matrix: npt.NDArray[np.int64], scheme: ClassScheme, prob_sum: float, prob_pixels: int,
                    *, ignore_nodata: bool = True) -> EvaluationReport:
        """Derive every metric from a confusion matrix (rows: label, columns: prediction).

        Args:
            matrix: ``(C, C)`` counts, rows = label, columns = prediction.
            scheme: the class scheme.
            prob_sum: sum of the true-label probabilities.
            prob_pixels: pixels in ``prob_sum``.
            ignore_nodata: leave the no-data class out of the mean IoU.
        """
        total = int(matrix.sum())
        correct = int(np.trace(matrix))
        per_class = []
        ious = []
        ignored = scheme.nodata_class if ignore_nodata else None
        for c in scheme.classes:
            tp = int(matrix[c.id, c.id])
            actual = int(matrix[c.id].sum())
            predicted = int(matrix[:, c.id].sum())
            precision = tp / predicted if predicted else None
            recall = tp / actual if actual else None
            f1 = (2 * precision * recall / (precision + recall)
                  if precision is not None and recall is not None and precision + recall > 0 else
                  (0.0 if precision is not None and recall is not None else None))
            union = actual + predicted - tp
            iou = tp / union if union else None
            if c.id != ignored and actual > 0 and iou is not None:
                ious.append(iou)
            per_class.append(ClassMetrics(c.id, c.name, actual, predicted, precision, recall, f1, iou))
        return cls(
            accuracy=correct / total if total else 0.0,
            mean_true_probability=prob_sum / prob_pixels if prob_pixels else None,
            mean_iou=float(np.mean(ious)) if ious else 0.0,
            pixels=total,
            confusion=matrix.tolist(),
            classes=per_class,
            scheme=scheme.name,
            ignored_class=ignored,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {
            "accuracy": self.accuracy,
            "mean_true_probability": self.mean_true_probability,
            "mean_iou": self.mean_iou,
            "pixels": self.pixels,
            "scheme": self.scheme,
            "ignored_class": self.ignored_class,
            "confusion_matrix": self.confusion,
            "classes": [vars(c) for c in self.classes],
        }

    def save_json(self, path: str | Path) -> Path:
        """Write the report as JSON, atomically."""
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2))

    def table(self) -> str:
        """A printable table of the per-class metrics and the headline numbers."""
        def fmt(v: float | None) -> str:
            return "   -  " if v is None else f"{v:6.3f}"

        lines = [f"{'class':<24} {'pixels':>10} {'precision':>9} {'recall':>7} {'F1':>6} {'IoU':>6}"]
        for c in self.classes:
            lines.append(f"{c.id} {c.name:<22} {c.pixels:>10} {fmt(c.precision):>9} {fmt(c.recall):>7} "
                         f"{fmt(c.f1):>6} {fmt(c.iou):>6}")
        prob = "-" if self.mean_true_probability is None else f"{self.mean_true_probability:.4f}"
        lines.append(f"pixel accuracy {self.accuracy:.4f}   mean true-label probability {prob}   "
                     f"mean IoU {self.mean_iou:.4f}   ({self.pixels} pixels)")
        return "\n".join(lines)


def evaluate(
    labels: npt.NDArray[np.integer[Any]],
    predictions_or_scores: npt.NDArray[Any],
    scheme: ClassScheme | None = None,
    *,
    ignore_nodata: bool = True,
) -> EvaluationReport:
    """The tutorial's metrics (and more) for one array of class-id labels.

    ``predictions_or_scores`` is either class ids ``(H, W)`` or scores ``(C, H, W)`` (softmax is
    applied to get the true-label probability).

    Args:
        labels: ``(H, W)`` class ids.
        predictions_or_scores: class ids ``(H, W)`` or scores ``(C, H, W)``.
        scheme: the class scheme (default: the tutorial's).
        ignore_nodata: leave pixels labelled no data out of every count.
    """
    scheme = scheme or ClassScheme.tutorial()
    acc = ConfusionAccumulator(scheme, ignore_nodata=ignore_nodata)
    arr = np.asarray(predictions_or_scores)
    if arr.ndim == 3:
        acc.update(labels, scores=arr)
    else:
        acc.update(labels, arr)
    return acc.report()
