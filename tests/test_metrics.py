"""Evaluation metrics against numbers worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landcover_sdk import ClassScheme, DataError, EvaluationReport
from landcover_sdk.inference import ConfusionAccumulator, evaluate, softmax

SCHEME = ClassScheme.tutorial()

# Labels and predictions on a 3x4 image. Label 0 (no data) pixels must be ignored entirely.
LABELS = np.array([[1, 1, 2, 2],
                   [2, 3, 3, 4],
                   [0, 0, 3, 4]])
PREDS = np.array([[1, 2, 2, 2],
                  [2, 3, 1, 4],
                  [4, 1, 3, 3]])
# Counted by hand over the 10 labelled pixels (rows: label, columns: prediction):
#   label 1: predicted 1, 2          label 2: predicted 2, 2, 2
#   label 3: predicted 3, 1, 3       label 4: predicted 4, 3
CONFUSION = [[0, 0, 0, 0, 0],
             [0, 1, 1, 0, 0],
             [0, 0, 3, 0, 0],
             [0, 1, 0, 2, 0],
             [0, 0, 0, 1, 1]]


def test_confusion_and_per_class_scores_by_hand() -> None:
    rep = evaluate(LABELS, PREDS, SCHEME)
    assert rep.confusion == CONFUSION
    assert rep.pixels == 10 and rep.accuracy == pytest.approx(7 / 10)
    by_id = {c.id: c for c in rep.classes}
    # water: tp 1, labelled 2, predicted 2 (the 1 at (2,1) sits on a no-data label and does not count)
    assert (by_id[1].pixels, by_id[1].predicted) == (2, 2)
    assert by_id[1].precision == pytest.approx(1 / 2) and by_id[1].recall == pytest.approx(1 / 2)
    assert by_id[1].f1 == pytest.approx(1 / 2) and by_id[1].iou == pytest.approx(1 / 3)
    # trees: tp 3, labelled 3, predicted 4
    assert by_id[2].precision == pytest.approx(3 / 4) and by_id[2].recall == pytest.approx(1.0)
    assert by_id[2].f1 == pytest.approx(2 * 0.75 / 1.75) and by_id[2].iou == pytest.approx(3 / 4)
    # herbaceous: tp 2, labelled 3, predicted 3
    assert by_id[3].precision == pytest.approx(2 / 3) and by_id[3].recall == pytest.approx(2 / 3)
    assert by_id[3].iou == pytest.approx(2 / 4)
    # barren: tp 1, labelled 2, predicted 1
    assert by_id[4].precision == pytest.approx(1.0) and by_id[4].recall == pytest.approx(1 / 2)
    assert by_id[4].f1 == pytest.approx(2 / 3) and by_id[4].iou == pytest.approx(1 / 2)
    # no data is excluded: no counts, no scores, not in the mean IoU
    assert by_id[0].pixels == 0 and by_id[0].precision is None and by_id[0].iou is None
    assert rep.ignored_class == 0
    assert rep.mean_iou == pytest.approx((1 / 3 + 3 / 4 + 2 / 4 + 1 / 2) / 4)
    assert rep.mean_true_probability is None


def test_mean_true_label_probability_by_hand() -> None:
    labels = np.array([[1, 2], [0, 4]])
    probs = np.zeros((5, 2, 2), np.float32)
    probs[:, 0, 0] = [0.0, 0.6, 0.4, 0.0, 0.0]   # label 1: p = 0.6, argmax 1 (right)
    probs[:, 0, 1] = [0.0, 0.7, 0.2, 0.1, 0.0]   # label 2: p = 0.2, argmax 1 (wrong)
    probs[:, 1, 0] = [0.9, 0.1, 0.0, 0.0, 0.0]   # no data: ignored
    probs[:, 1, 1] = [0.0, 0.0, 0.0, 0.5, 0.5]   # label 4: p = 0.5, argmax 3 (first maximum; wrong)
    acc = ConfusionAccumulator(SCHEME)
    acc.update(labels, probabilities=probs)
    rep = acc.report()
    assert rep.pixels == 3 and rep.accuracy == pytest.approx(1 / 3)
    assert rep.mean_true_probability == pytest.approx((0.6 + 0.2 + 0.5) / 3)
    # scores go through softmax: equal scores give equal probabilities
    rep = evaluate(np.array([[3]]), np.zeros((5, 1, 1)), SCHEME)
    assert rep.mean_true_probability == pytest.approx(0.2)


def test_without_ignoring_nodata_every_pixel_counts() -> None:
    rep = evaluate(LABELS, PREDS, SCHEME, ignore_nodata=False)
    assert rep.pixels == 12 and rep.ignored_class is None
    assert rep.confusion[0] == [0, 1, 0, 0, 1] and rep.accuracy == pytest.approx(7 / 12)


def test_merge_and_add_report_equal_one_pass() -> None:
    whole = evaluate(LABELS, PREDS, SCHEME)
    top, bottom = ConfusionAccumulator(SCHEME), ConfusionAccumulator(SCHEME)
    top.update(LABELS[:1], PREDS[:1])
    bottom.update(LABELS[1:], PREDS[1:])
    top.merge(bottom)
    assert top.report() == whole
    summed = ConfusionAccumulator(SCHEME)
    summed.add_report(evaluate(LABELS[:2], PREDS[:2], SCHEME))
    summed.add_report(evaluate(LABELS[2:], PREDS[2:], SCHEME))
    assert summed.report() == whole


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), rows=st.integers(1, 12), cols=st.integers(1, 12), cut=st.integers(0, 12))
def test_streaming_in_any_split_equals_one_pass(seed: int, rows: int, cols: int, cut: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, (rows, cols))
    scores = rng.normal(size=(5, rows, cols)).astype(np.float32)
    whole = evaluate(labels, scores, SCHEME)
    cut = min(cut, rows)
    acc = ConfusionAccumulator(SCHEME)
    for part in (slice(0, cut), slice(cut, rows)):
        if labels[part].size:
            acc.update(labels[part], scores=scores[:, part])
    rep = acc.report()
    assert rep.confusion == whole.confusion and rep.pixels == whole.pixels
    assert np.array(rep.confusion).sum() == int((labels != 0).sum())
    if whole.mean_true_probability is not None:
        assert rep.mean_true_probability == pytest.approx(whole.mean_true_probability, rel=1e-6)


def test_softmax_is_stable_and_normalised() -> None:
    s = np.array([[1000.0, -1000.0], [1001.0, -999.0]], np.float32)
    p = softmax(s, axis=0)
    assert np.isfinite(p).all() and np.allclose(p.sum(axis=0), 1.0)
    assert p[1, 0] == pytest.approx(1 / (1 + np.exp(-1)))


def test_bad_shapes_and_values_are_data_errors() -> None:
    acc = ConfusionAccumulator(SCHEME)
    with pytest.raises(DataError, match="differs from labels"):
        acc.update(LABELS, PREDS[:2])
    with pytest.raises(DataError, match=r"outside 0\.\.4"):
        acc.update(LABELS, PREDS + 1)
    with pytest.raises(DataError, match="does not match labels"):
        acc.update(LABELS, probabilities=np.zeros((4, 3, 4)))
    with pytest.raises(DataError, match="give predictions"):
        acc.update(LABELS)


def test_report_json_and_table(tmp_path: Path) -> None:
    rep = evaluate(LABELS, PREDS, SCHEME)
    data = json.loads(rep.save_json(tmp_path / "r.json").read_text())
    assert data["confusion_matrix"] == CONFUSION and data["accuracy"] == pytest.approx(0.7)
    assert data["classes"][2]["name"] == "trees and shrubs"
    table = rep.table()
    assert "pixel accuracy 0.7000" in table and "(10 pixels)" in table
    assert isinstance(rep, EvaluationReport)
