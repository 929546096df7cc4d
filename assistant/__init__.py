"""A question-answering assistant over your documents that cites verbatim quotations."""

__version__ = "0.1.0"
