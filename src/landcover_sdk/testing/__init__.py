"""Test helpers shipped for users and plugin authors.

The rule: ``landcover_sdk.testing`` ships what users need to test their own code (plugins, scripts, raster
functions) against the SDK; the SDK's own test fixtures stay in ``tests/``. Today :mod:`.arcgis` replays
ArcGIS Pro's raster-function calls.
"""

from .arcgis import ArcGISReplay, Mosaic, ReplayError

__all__ = ["ArcGISReplay", "Mosaic", "ReplayError"]
