"""Loading transformers models quietly: the core (embeddings) and the built-in plugins share this."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports and progress bars while loading weights.

    Its tqdm bars would tear through the run's own progress display, and its reports (a new
    classification head, say) are expected. The previous settings come back afterwards.
    """
    from transformers.utils import logging

    level = logging.get_verbosity()
    bars = logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(level)
        if bars:
            logging.enable_progress_bar()
