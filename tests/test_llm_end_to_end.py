"""End to end with real language models: SmolLM2-135M in-process and behind llama-cpp-python's
OpenAI-compatible server, the default Qwen2.5-Coder-1.5B once, over the sample article."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ARTICLE, _free_port, fast_settings, server_process

from assistant import pipeline
from assistant.backends import Backends
from assistant.components.generate import NOT_FOUND
from assistant.components.models import resolve_gguf
from assistant.records import Answer, Turn
from assistant.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.llm]

SMOLLM = "packaged:smollm2-135m-instruct"
QUESTIONS = [
    "How many Tajik migrants work in Russia?",
    "What happened at Crocus City Hall?",
    "Why does the article say Tajiks are in the crosshairs?",
]


def real_settings(tmp_path: Path, **overrides) -> Settings:
    """The real embedding model, embedded Chroma in tmp, models assembled into a tmp cache."""
    generation = {"model_cache": tmp_path / "models", **overrides.pop("generation", {})}
    return fast_settings(
        tmp_path / "data", embedding={"backend": "sentence-transformers"}, generation=generation, **overrides
    )


@pytest.fixture
def article_backends(tmp_path: Path, real_embedder) -> Iterator:
    """Build backends for given settings over the ingested sample article, sharing the session's model."""
    made: list[Backends] = []

    def build(settings: Settings) -> Backends:
        backends = Backends(settings)
        backends.embedder = real_embedder
        report = pipeline.ingest_paths([ARTICLE], backends)
        assert report.count("added") == 1
        made.append(backends)
        return backends

    yield build
    for backends in made:
        backends.docstore.close()


def assert_well_formed(answer: Answer, backends: Backends) -> None:
    """Whatever the model wrote: every sentence has a verdict, every shown quote is verbatim."""
    assert answer.claims, answer.text
    for claim in answer.claims:
        assert claim.verdict in ("supported", "unsupported", "uncited")
        assert (claim.verdict == "supported") == (not claim.reasons), claim
        for citation in claim.citations:
            document = backends.docstore.document(citation.doc_id)
            assert document.text[citation.start : citation.end] == citation.quote
    assert answer.timings.first_token is not None and answer.timings.total > 0


def test_smollm2_in_process_answers_are_checked_and_its_slips_flagged(tmp_path: Path, article_backends) -> None:
    settings = real_settings(tmp_path, generation={"model": SMOLLM}, verification={"judge_model": SMOLLM})
    backends = article_backends(settings)
    answers = [pipeline.ask(question, backends) for question in QUESTIONS]
    for answer in answers:
        assert (answer.generator, answer.model) == ("local", "SmolLM2-135M-Instruct.Q4_1.gguf")
        assert_well_formed(answer, backends)
    verdicts = [claim.verdict for answer in answers for claim in answer.claims]
    assert set(verdicts) & {"unsupported", "uncited"}, "a 135M model's answers were all judged supported"


@pytest.fixture(scope="module")
def openai_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's own OpenAI-compatible server on 127.0.0.1, serving SmolLM2-135M."""
    model = resolve_gguf(SMOLLM, tmp_path_factory.mktemp("models"))
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
        "--port", str(port), "--n_ctx", "4096", "--model_alias", "smollm2",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    with server_process(command, f"{url}/models", log_path):
        yield url


@pytest.mark.server
def test_openai_generator_and_judge_through_a_real_compatible_server(
    tmp_path: Path, article_backends, openai_server: str
) -> None:
    settings = real_settings(
        tmp_path,
        generation={"generator": "openai", "fallback": False},
        openai={"base_url": openai_server, "model": "smollm2"},
        verification={"judge": "openai"},
    )
    backends = article_backends(settings)
    answer = pipeline.ask(QUESTIONS[0], backends)
    assert (answer.generator, answer.model) == ("openai", "smollm2")
    assert_well_formed(answer, backends)
    # the judge's YES/NO odds through the endpoint's logprobs (SmolLM2 rarely cites, so ask verify)
    judgement = pipeline.verify("Around 3 million Tajiks work in Russia.", backends).judgement
    assert judgement.judge == "llm:smollm2" and 0 < judgement.signals["p_yes"] < 1


@pytest.mark.server
def test_an_unreachable_endpoint_is_a_clear_503(tmp_path: Path, article_backends) -> None:
    from assistant.errors import BackendUnavailable

    settings = real_settings(
        tmp_path,
        generation={"generator": "openai", "fallback": False},
        openai={"base_url": f"http://127.0.0.1:{_free_port()}/v1", "timeout": 5},
    )
    backends = article_backends(settings)
    with pytest.raises(BackendUnavailable, match="cannot be reached") as raised:
        pipeline.ask(QUESTIONS[0], backends)
    assert raised.value.status == 503


def test_a_question_the_documents_do_not_answer_gets_the_not_found_answer(tmp_path: Path, article_backends) -> None:
    settings = real_settings(tmp_path, generation={"model": SMOLLM}, verification={"judge_model": SMOLLM})
    backends = article_backends(settings)
    answer = pipeline.ask("What is the boiling point of liquid nitrogen in kelvin?", backends)
    assert (answer.answered, answer.text, answer.claims) == (False, NOT_FOUND, [])


def test_extractive_answer_over_the_article_quotes_the_disagreeing_counts(tmp_path: Path, article_backends) -> None:
    backends = article_backends(real_settings(tmp_path, verification={"judge_model": SMOLLM}))
    answer = pipeline.ask(QUESTIONS[0], backends, generator="extractive")
    assert_well_formed(answer, backends)
    assert all(claim.verdict == "supported" for claim in answer.claims)
    quoted = " ".join(citation.quote for claim in answer.claims for citation in claim.citations)
    assert len({figure for figure in ("3 million", "3.1 million", "627,000", "1 million") if figure in quoted}) >= 2


def test_the_default_model_answers_in_cited_sentences(tmp_path: Path, article_backends) -> None:
    settings = Settings(data_dir=tmp_path / "data")  # the shipped defaults: Qwen2.5-Coder-1.5B writes and judges
    backends = article_backends(settings)
    answer = pipeline.ask(QUESTIONS[0], backends)
    assert (answer.generator, answer.model) == ("local", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
    assert_well_formed(answer, backends)
    # it follows the citation format (not always after every sentence: those are flagged uncited)
    assert any(claim.keys and claim.citations for claim in answer.claims), answer.text
    follow_up = "And where do most of them come from?"
    rewritten = backends.rewriter(backends.generator()).rewrite(follow_up, [Turn(QUESTIONS[0], answer.text)])
    assert "tajik" in rewritten.lower() and rewritten != follow_up, rewritten
