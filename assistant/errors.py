"""The assistant's one error tree; each class carries the HTTP status an API answers with.

AssistantError (500)
├── InputError (400)
│   ├── QuestionTooLong (413)
│   ├── TooManyFiles (413)           an upload of more files than `server.max_upload_files`
│   └── DocumentError (422)          a file that cannot become a document
│       ├── UnsupportedFileType (415)
│       ├── FileTooLarge (413)
│       ├── EmptyDocument (422)
│       ├── CorruptDocument (422)
│       ├── EncryptedDocument (422)
│       └── UnreadableEncoding (422)
├── ClientGone (499)                 the client closed the connection before its answer was ready
├── Unauthorized (401)               an API key is set and the request lacks it
├── TooManyAttempts (429)            too many wrong keys from one address: refused for a while
├── NotFound (404)
│   ├── DocumentNotFound (404)
│   ├── JobNotFound (404)
│   └── ModelNotFound (404)          an OpenAI-compatible request naming a model we do not serve
├── BackendUnavailable (503)          a store or model cannot be reached or loaded
│   └── Busy (503)                     too many answers already running or waiting for the model
└── ConfigurationError (500)          the installation itself is broken (a prompt template, say)
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every error the assistant raises on purpose."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers its response carries beside the status."""
        return {}


class InputError(AssistantError):
    status = 400
    code = "bad_input"


class QuestionTooLong(InputError):
    status = 413
    code = "question_too_long"


class TooManyFiles(InputError):
    status = 413
    code = "too_many_files"


class DocumentError(InputError):
    status = 422
    code = "bad_document"


class UnsupportedFileType(DocumentError):
    status = 415
    code = "unsupported_file_type"


class FileTooLarge(DocumentError):
    status = 413
    code = "file_too_large"


class EmptyDocument(DocumentError):
    code = "empty_document"


class CorruptDocument(DocumentError):
    code = "corrupt_document"


class EncryptedDocument(DocumentError):
    code = "encrypted_document"


class UnreadableEncoding(DocumentError):
    code = "unreadable_encoding"


class ClientGone(AssistantError):
    status = 499  # nginx's "client closed request": nobody reads it, the logs do
    code = "client_closed_request"


class Unauthorized(AssistantError):
    status = 401
    code = "unauthorized"


class TooManyAttempts(AssistantError):
    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class NotFound(AssistantError):
    status = 404
    code = "not_found"


class DocumentNotFound(NotFound):
    code = "document_not_found"


class JobNotFound(NotFound):
    code = "job_not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class BackendUnavailable(AssistantError):
    status = 503
    code = "backend_unavailable"


class Busy(BackendUnavailable):
    code = "busy"


class ConfigurationError(AssistantError):
    code = "configuration_error"
