"""Process and file machinery: the output folder's lock and signal handling
(:mod:`~.lock`), files written whole or not at all and checksums (:mod:`~.files`), package
versions (:mod:`~.versions`).

May import: :mod:`pipeline.errors` only.
"""
