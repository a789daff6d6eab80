"""The package version (single source: read by pyproject via setuptools dynamic metadata)."""

__version__ = "0.1.0"
