"""The tutorial's CNTK ``.model`` files, read without CNTK: protobuf wire format, dictionary format, import."""

from .importer import import_cntk, import_cntk_bytes

__all__ = ["import_cntk", "import_cntk_bytes"]
