"""``python -m pipeline``: the same as the ``carbon-zoning`` command."""

from pipeline.cli import entry

entry()
