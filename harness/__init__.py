"""sparsebench: does synthetic toxic text help classifiers that starve for positives?

The public API for plugin authors: :data:`hookimpl`, the component contracts and :class:`Param`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .hookspecs import hookimpl

__all__ = ["__version__", "hookimpl"]
