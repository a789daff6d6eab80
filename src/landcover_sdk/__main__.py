"""``python -m landcover_sdk`` runs the ``landcover`` command."""

import sys

from .cli.main import main

sys.exit(main())
