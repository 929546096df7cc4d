"""Chat models: a GGUF file run in-process by llama-cpp-python, or any OpenAI-compatible endpoint."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Protocol

from assistant.errors import BackendUnavailable

Messages = list[dict[str, str]]


class ChatModel(Protocol):
    """What generators and the judge need from a language model."""

    name: str  # the back-end: "local" or "openai"
    model: str  # the weights or served model, for the record

    def stream(self, messages: Messages, max_tokens: int) -> Iterator[str]:
        """The reply, piece by piece, decoded greedily."""
        ...

    def yes_probability(self, messages: Messages) -> float:
        """P(the reply starts with YES | it starts with YES or NO)."""
        ...


def yes_share(logprobs: dict[str, float]) -> float:
    """Normalise the first token's YES and NO mass against each other.

    >>> round(yes_share({"YES": math.log(0.3), "Yes": math.log(0.1), "NO": math.log(0.4)}), 2)
    0.5
    """
    yes = sum(math.exp(lp) for token, lp in logprobs.items() if token.strip().upper() == "YES")
    no = sum(math.exp(lp) for token, lp in logprobs.items() if token.strip().upper() == "NO")
    return 0.5 if yes + no == 0 else yes / (yes + no)


class LlamaCppChat:
    """A GGUF model in this process. One call runs at a time (the context is not thread-safe); a
    prompt that starts like the previous one reuses its evaluated prefix, so a fixed system prompt
    is paid for once."""

    name = "local"

    def __init__(self, path: Path, context_tokens: int = 4096, threads: int | None = None) -> None:
        self.path = path
        self.model = path.name
        self._context_tokens = context_tokens
        self._threads = threads
        self._lock = threading.Lock()

    @cached_property
    def _llama(self):
        try:
            from llama_cpp import Llama
        except ImportError as error:
            raise BackendUnavailable("llama-cpp-python is not installed: pip install llama-cpp-python") from error
        try:
            threads = self._threads or os.cpu_count() or 1  # llama-cpp's default is half the cores
            return Llama(
                model_path=str(self.path),
                n_ctx=self._context_tokens,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        except (ValueError, RuntimeError) as error:
            raise BackendUnavailable(f"cannot load the model {self.path}: {error}") from error

    def load(self) -> None:
        """Load the weights now rather than on the first question."""
        with self._lock:
            self._llama  # noqa: B018 - the cached property loads

    def stream(self, messages: Messages, max_tokens: int) -> Iterator[str]:
        with self._lock, self._translated_errors():
            parts = self._llama.create_chat_completion(
                messages=messages, max_tokens=max_tokens, temperature=0.0, stream=True
            )
            for part in parts:
                if text := part["choices"][0]["delta"].get("content"):
                    yield text

    def yes_probability(self, messages: Messages) -> float:
        with self._lock, self._translated_errors():
            llama = self._llama
            tokens = llama.tokenize(self._chat_prompt(messages).encode("utf-8"), add_bos=False, special=True)
            logits = _next_token_logits(llama, tokens)
        return yes_share(self._answer_logprobs(logits))

    @contextmanager
    def _translated_errors(self) -> Iterator[None]:
        """llama.cpp reports a prompt over the context window, or a failed decode, as plain errors."""
        try:
            yield
        except (ValueError, RuntimeError) as error:
            raise BackendUnavailable(f"the local model {self.model} failed: {error}") from error

    def _chat_prompt(self, messages: Messages) -> str:
        return self._formatter(messages=messages).prompt

    @cached_property
    def _formatter(self):
        """The GGUF's own chat template, compiled once (the judge formats a prompt per sentence)."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llama = self._llama
        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise BackendUnavailable(f"{self.model} has no chat template")
        vocab = llama._model
        return Jinja2ChatFormatter(
            template,
            eos_token=llama.detokenize([vocab.token_eos()]).decode("utf-8", "replace"),
            bos_token=llama.detokenize([vocab.token_bos()]).decode("utf-8", "replace"),
        )

    @cached_property
    def _answer_tokens(self) -> dict[str, int]:
        """Token ids of the one-token spellings of YES and NO."""
        found = {}
        for word in ("YES", "Yes", "yes", "NO", "No", "no"):
            ids = self._llama.tokenize(word.encode(), add_bos=False, special=False)
            if len(ids) == 1:
                found[word] = ids[0]
        return found

    def _answer_logprobs(self, logits) -> dict[str, float]:
        import numpy as np

        shifted = logits - logits.max()
        log_total = math.log(float(np.exp(shifted).sum()))
        return {word: float(shifted[index]) - log_total for word, index in self._answer_tokens.items()}


def _next_token_logits(llama, tokens: list[int]):
    """Evaluate `tokens` (reusing the longest prefix already in the context) and return the logits
    of the next token."""
    import numpy as np

    cached = llama.input_ids[: llama.n_tokens].tolist()
    keep = 0
    for ours, theirs in zip(tokens[:-1], cached):  # the last token is always evaluated, for its logits
        if ours != theirs:
            break
        keep += 1
    llama.n_tokens = keep
    llama._ctx.kv_cache_seq_rm(-1, keep, -1)
    llama.eval(tokens[keep:])
    # Without logits_all (which would cost a vocabulary-sized product per prompt token), llama.cpp
    # keeps only the last position's logits, and llama-cpp-python no longer copies them out.
    return np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),)).copy()


class OpenAIChat:
    """Any OpenAI-compatible chat endpoint: OpenAI, vLLM, Ollama, a llama.cpp server."""

    name = "openai"

    def __init__(self, base_url: str, model: str, api_key: str, timeout: float) -> None:
        self.model = model
        self._base_url = base_url
        self._api_key = api_key
        self._timeout = timeout

    @cached_property
    def _client(self):
        from openai import OpenAI

        return OpenAI(base_url=self._base_url, api_key=self._api_key, timeout=self._timeout, max_retries=1)

    def stream(self, messages: Messages, max_tokens: int) -> Iterator[str]:
        with _endpoint_errors(self._base_url):
            parts = self._client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=max_tokens, temperature=0.0, stream=True
            )
            for part in parts:
                if part.choices and (text := part.choices[0].delta.content):
                    yield text

    def yes_probability(self, messages: Messages) -> float:
        with _endpoint_errors(self._base_url):
            reply = self._client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=10
            )
            if not reply.choices:
                raise BackendUnavailable(f"the model endpoint {self._base_url} sent a reply with no choices")
            choice = reply.choices[0]
            if choice.logprobs and choice.logprobs.content and choice.logprobs.content[0].top_logprobs:
                return yes_share({t.token: t.logprob for t in choice.logprobs.content[0].top_logprobs})
        answer = (choice.message.content or "").strip().upper()  # endpoints without logprobs
        return 1.0 if answer.startswith("YES") else 0.0 if answer.startswith("NO") else 0.5


@contextmanager
def _endpoint_errors(base_url: str) -> Iterator[None]:
    """openai's exceptions become BackendUnavailable, naming the endpoint."""
    import openai

    try:
        yield
    except openai.APIStatusError as error:
        raise BackendUnavailable(
            f"the model endpoint {base_url} answered {error.status_code}: {error.message}"
        ) from error
    except openai.APIError as error:
        raise BackendUnavailable(f"the model endpoint {base_url} cannot be reached: {error}") from error
