"""``python -m pipeline``: the same as the ``carbon-zoning`` command."""

import sys

from pipeline.cli import main

sys.exit(main())
