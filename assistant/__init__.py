"""A question-answering assistant over your documents that cites verbatim quotations."""

import os

__version__ = "0.1.0"


def offline() -> None:
    """Models load from packages on disk: never reach for a hub, and keep library chatter quiet."""
    for name, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "TOKENIZERS_PARALLELISM": "false",
    }.items():
        os.environ.setdefault(name, value)
