"""ArcGIS Pro: the model as an Esri Python raster function and as a deep-learning package.

* :class:`ClassifyLandcover` — the raster function (soft/hard renders, probabilities, class ids),
  block by block as the user pans, seam-free on the raster's own 128-pixel grid; no ``arcpy``.
* :func:`install_function` — the ``ClassifyLandcover/`` folder for Pro's custom raster functions.
* :func:`export_dlpk` — ONNX model + ``.emd`` + ``.dlpk`` for "Classify Pixels Using Deep Learning".

:class:`landcover_sdk.testing.arcgis.ArcGISReplay` drives any raster function as ArcGIS does.
"""

from .function import ClassifyLandcover, attribute_table, read_emd
from .package import export_dlpk, function_template, install_function, model_definition

__all__ = [
    "ClassifyLandcover",
    "attribute_table",
    "export_dlpk",
    "function_template",
    "install_function",
    "model_definition",
    "read_emd",
]
