"""Renderings as the tutorial showed them: NAIP RGB, hard and soft labels, overlays, comparisons.

Arrays are returned as ``(H, W, 3)`` uint8 RGB; Pillow writes PNGs. Label colours are the class
scheme's (the tutorial's colour map truncated to 8 bits, as in its published renders).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from .._atomic import atomic_output
from ..config.schemes import ClassScheme
from ..errors import DataError
from .metrics import softmax

RGBArray = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Classified:
    """What :func:`classify` made of a block of scores (each ``None`` unless asked for).

    Attributes:
        classes: ``(H, W)`` uint8 class ids.
        probabilities: ``(C, H, W)`` float32 softmax of the scores.
        soft: ``(H, W, 3)`` uint8 class colours blended by probability.
    """

    classes: npt.NDArray[np.uint8] | None
    probabilities: npt.NDArray[np.float32] | None
    soft: RGBArray | None


def classify(scores: npt.NDArray[np.float32], valid: npt.NDArray[np.bool_], scheme: ClassScheme, *,
             nodata_class: int | None, classes: bool = True, probabilities: bool = False,
             soft: bool = False) -> Classified:
    """Network scores to class ids (and, if asked, probabilities and soft colours): the one place every surface
    turns scores into classes.

    What invalid input pixels become is the caller's explicit choice: ``predict_raster`` and ``serve`` pass the
    scheme's no-data class when ``PredictConfig.nodata_to_class0`` is set (``None`` otherwise); the ArcGIS function
    always passes one (the scheme's, or 0), because it also masks those pixels and ArcGIS shows the class value
    under the mask in some tools.

    Args:
        scores: ``(C, H, W)`` network scores.
        valid: ``(H, W)`` bool, ``False`` where the input has no data.
        scheme: the model's classes (for soft colours).
        nodata_class: the class written where ``valid`` is ``False``; ``None`` keeps the argmax there.
        classes: compute class ids (the argmax of the scores, which equals that of their softmax).
        probabilities: compute the softmax of the scores.
        soft: compute soft colours (implies the softmax).
    """
    ids: npt.NDArray[np.uint8] | None = None
    if classes:
        ids = scores.argmax(axis=0).astype(np.uint8)
        if nodata_class is not None:
            ids[~valid] = nodata_class
    probs = softmax(scores, axis=0) if probabilities or soft else None
    rgb = soft_labels(probs, scheme) if soft and probs is not None else None
    return Classified(ids, probs if probabilities else None, rgb)


def naip_rgb(image: npt.NDArray[Any], *, scale: float = 1.0 / 256.0) -> RGBArray:
    """Red, green and blue of a ``(bands, H, W)`` image as an RGB array (near-infrared dropped).

    uint8 input is used as it is; float input is taken as scaled imagery (uint8 × ``scale``).
    """
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[0] < 3:
        raise DataError(f"image must be (bands >= 3, H, W), got {arr.shape}")
    rgb = arr[:3]
    if rgb.dtype != np.uint8:
        rgb = np.clip(np.rint(rgb.astype(np.float64) / scale), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(rgb.transpose(1, 2, 0))


def hard_labels(classes: npt.NDArray[np.integer[Any]], scheme: ClassScheme | None = None) -> RGBArray:
    """Each pixel in its class colour (the tutorial's 'hard' labels and true labels)."""
    scheme = scheme or ClassScheme.tutorial()
    arr = np.asarray(classes)
    if arr.ndim != 2:
        raise DataError(f"classes must be (H, W), got {arr.shape}")
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= scheme.num_classes):
        raise DataError(f"class ids outside 0..{scheme.num_classes - 1}")
    return scheme.colors[arr]


def soft_labels(probabilities: npt.NDArray[np.floating[Any]], scheme: ClassScheme | None = None) -> RGBArray:
    """Class colours blended by probability (the tutorial's 'soft' labels): sum_c p_c · colour_c."""
    scheme = scheme or ClassScheme.tutorial()
    p = np.asarray(probabilities, dtype=np.float32)
    if p.ndim != 3 or p.shape[0] != scheme.num_classes:
        raise DataError(f"probabilities must be ({scheme.num_classes}, H, W), got {p.shape}")
    colours = scheme.colors.astype(np.float32)
    blended = np.tensordot(p, colours, axes=([0], [0]))
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def overlay(rgb: RGBArray, classes: npt.NDArray[np.integer[Any]], scheme: ClassScheme | None = None,
            *, alpha: float = 0.45) -> RGBArray:
    """Class colours laid over imagery with opacity ``alpha`` (no-data pixels left as imagery).

    Args:
        rgb: ``(H, W, 3)`` imagery.
        classes: ``(H, W)`` class ids.
        scheme: the class scheme (default: the tutorial's).
        alpha: opacity of the class colours.
    """
    scheme = scheme or ClassScheme.tutorial()
    colours = hard_labels(classes, scheme).astype(np.float32)
    base = np.asarray(rgb, dtype=np.float32)
    mixed = (1 - alpha) * base + alpha * colours
    if scheme.nodata_class is not None:
        keep = np.asarray(classes) == scheme.nodata_class
        mixed[keep] = base[keep]
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def save_png(array: RGBArray, path: str | Path) -> Path:
    """Write an RGB (or greyscale) uint8 array as PNG, atomically."""
    with atomic_output(path) as tmp:
        Image.fromarray(np.ascontiguousarray(array)).save(tmp, format="PNG")
    return Path(path)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def comparison_figure(
    panels: Sequence[tuple[str, RGBArray]],
    scheme: ClassScheme | None = None,
    *,
    title: str | None = None,
    max_panel: int = 512,
) -> Image.Image:
    """Panels side by side with captions and a class legend (the tutorial's sample-output picture).

    Args:
        panels: ``(caption, (H, W, 3) image)`` pairs.
        scheme: the class scheme of the legend (default: the tutorial's).
        title: a line above the panels.
        max_panel: the largest panel side in pixels (panels are scaled down to it).
    """
    scheme = scheme or ClassScheme.tutorial()
    if not panels:
        raise DataError("no panels to draw")
    h, w = panels[0][1].shape[:2]
    k = min(1.0, max_panel / max(h, w))
    ph, pw = max(1, round(h * k)), max(1, round(w * k))
    pad, caption, legend_h = 16, 28, 36
    top = pad + (caption if title else 0)
    width = pad + len(panels) * (pw + pad)
    height = top + caption + ph + pad + legend_h
    fig = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(fig)
    font, small = _font(18), _font(14)
    if title:
        draw.text((pad, pad // 2), title, fill="black", font=font)
    for i, (name, arr) in enumerate(panels):
        if arr.shape[:2] != (h, w):
            raise DataError(f"panel {name!r} is {arr.shape[:2]}, expected {(h, w)}")
        x = pad + i * (pw + pad)
        draw.text((x, top), name, fill="black", font=font)
        img = Image.fromarray(np.ascontiguousarray(arr)).resize((pw, ph), Image.Resampling.NEAREST)
        fig.paste(img, (x, top + caption))
    x, y = pad, top + caption + ph + pad // 2 + 6
    for c in scheme.classes:
        draw.rectangle([x, y, x + 18, y + 18], fill=tuple(c.color), outline="black")
        draw.text((x + 24, y + 1), f"{c.id} {c.name}", fill="black", font=small)
        x += 34 + int(draw.textlength(f"{c.id} {c.name}", font=small))
    return fig


def save_comparison(path: str | Path, panels: Sequence[tuple[str, RGBArray]], scheme: ClassScheme | None = None,
                    *, title: str | None = None, max_panel: int = 512) -> Path:
    """Draw :func:`comparison_figure` and write it as PNG, atomically.

    Args:
        path: the PNG to write.
        panels: ``(caption, image)`` pairs.
        scheme: the class scheme of the legend.
        title: a line above the panels.
        max_panel: the largest panel side in pixels.
    """
    fig = comparison_figure(panels, scheme, title=title, max_panel=max_panel)
    with atomic_output(path) as tmp:
        fig.save(tmp, format="PNG")
    return Path(path)
