"""Test helpers shipped for users and plugin authors: :mod:`.arcgis` replays ArcGIS Pro's raster-function calls."""

from .arcgis import ArcGISReplay, Mosaic, ReplayError

__all__ = ["ArcGISReplay", "Mosaic", "ReplayError"]
