"""The error raised when a dataset is neither on disk nor allowed (or able) to be downloaded.

:class:`DatasetNotFoundError` lives in :mod:`autoencoders.errors` with every other error of the
library; it is importable from here too.
"""

from __future__ import annotations

from autoencoders.errors import DatasetNotFoundError

__all__ = ["DatasetNotFoundError"]
