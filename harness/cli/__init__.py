"""The ``bench`` command line. Each command group lives in its own module; only click loads at start-up."""

from __future__ import annotations

from sparsebench.cli.main import cli, main

__all__ = ["cli", "main"]
