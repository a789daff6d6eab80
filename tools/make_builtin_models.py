"""Build the package's built-in models from their sources (run once; the outputs are committed).

    python tools/make_builtin_models.py ../shared/fixtures/cntk/250epochs.model

writes ``src/landcover_sdk/resources/models/tutorial-250epochs.safetensors``: the tutorial's CNTK model
imported by this package's own importer, with its licence and origin recorded in the provenance.
``tests/test_builtin.py`` re-imports the source file and checks that the shipped weights are identical.
"""

from __future__ import annotations

import sys
from pathlib import Path

from landcover_sdk import import_cntk
from landcover_sdk.models.builtin import builtin_model

ORIGIN = {
    "licence": "MIT",
    "copyright": "Copyright (c) Microsoft Corporation",
    "origin": "https://github.com/Azure/pixel_level_land_classification, sample_models/250epochs.model",
    "citation": "Microsoft, 'Pixel-level land classification' tutorial (CNTK, Azure Batch AI), 2018",
}


def main() -> None:
    source = Path(sys.argv[1])
    target = builtin_model("tutorial-250epochs").path
    mf = import_cntk(source).with_provenance(**ORIGIN)
    mf.save(target)
    print(f"wrote {target} ({target.stat().st_size:,} bytes) from {source}")


if __name__ == "__main__":
    main()
