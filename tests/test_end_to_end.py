"""End to end with real components: the packaged model, and Chroma embedded and as a `chroma run` server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ARTICLE, GOOD, GOOD_DOCUMENTS, ingest, search

from assistant.backends import Backends
from assistant.settings import Settings

pytestmark = pytest.mark.slow

ARTICLE_TITLE = "The Hegemon's 'K-Device': Tajiks in the crosshairs"


@pytest.fixture(scope="module", params=["embedded", pytest.param("server", marks=pytest.mark.server)])
def library(request, tmp_path_factory, real_embedder) -> Backends:
    """The sample article plus every good fixture, ingested with the real model into one kind of Chroma."""
    url = request.getfixturevalue("chroma_server") if request.param == "server" else None
    folder = tmp_path_factory.mktemp(f"e2e-{request.param}")
    inputs = Path(shutil.copytree(GOOD, folder / "inputs"))
    shutil.copy(ARTICLE, inputs / ARTICLE.name)
    backends = Backends(Settings(data_dir=folder / "data", store={"chroma_url": url}))
    backends.embedder = real_embedder  # the session's model, loaded once
    report = ingest(backends, inputs)
    assert (report.count("added"), report.count("failed")) == (GOOD_DOCUMENTS + 1, 0), report.failed
    return backends


def inputs_of(backends: Backends) -> Path:
    return backends.settings.data_dir.parent / "inputs"


QUESTIONS = [
    # (question, expected title of the first hit)
    ("How many gannets did the lighthouse keeper count at dawn?", "The Keeper's Log of Skerryvore"),
    ("What hydration should a rye sourdough starter be kept at?", "Sourdough Hydration Guide"),
    ("Which Patagonian glacier is not retreating?", "Glacier Retreat in Patagonia"),
    ("How long does a Hohmann transfer from Earth to Mars take?", "Orbital Mechanics Primer"),
    ("How do honeybees keep warm through the winter?", "Beekeeping in Winter"),
    ("What happened when Krakatoa erupted?", "Krakatoa 1883"),
    ("Which chess opening starts with 1.e4 c5?", "Sicilian Defence"),
    ("When is Darjeeling first flush tea picked?", "Darjeeling First Flush"),
    # Paraphrases that share almost no words with the text: the dense model has to find them.
    ("Which insects huddle together to survive the cold months?", "Beekeeping in Winter"),
    ("Who is blamed for the attack on the concert hall near Moscow?", ARTICLE_TITLE),
]


@pytest.mark.parametrize(("question", "title"), QUESTIONS)
def test_each_document_answers_its_own_question_first(library: Backends, question: str, title: str) -> None:
    assert search(library, question)[0].title == title


def test_the_pdf_answer_comes_from_page_two(library: Backends) -> None:
    top = search(library, "How long does a Hohmann transfer from Earth to Mars take?")[0]
    assert top.chunk.page == 2 and "259 days" in top.chunk.text


def test_jsonl_hits_carry_the_record_id(library: Backends) -> None:
    top = search(library, "What happened when Krakatoa erupted?")[0]
    assert (top.chunk.doc_id, top.source) == ("rec-krakatoa", "records.jsonl#rec-krakatoa")


def test_tajik_migrant_numbers_are_in_the_top_three(library: Backends) -> None:
    hits = search(library, "How many Tajik migrants work in Russia?", k=3)
    assert any(
        hit.title == ARTICLE_TITLE and ("3 million" in hit.chunk.text or "350,236" in hit.chunk.text) for hit in hits
    )


def test_hit_text_is_the_stored_document_text_at_its_offsets(library: Backends) -> None:
    for hit in search(library, "How many Tajik migrants work in Russia?", k=5):
        document = library.store.docstore.document(hit.chunk.doc_id)
        assert document.text[hit.chunk.start : hit.chunk.end] == hit.chunk.text


def test_reingesting_the_same_inputs_changes_nothing(library: Backends) -> None:
    vectors = library.store.vectors.count()
    report = ingest(library, inputs_of(library))
    assert (report.count("unchanged"), report.chunks) == (GOOD_DOCUMENTS + 1, 0)
    assert library.store.vectors.count() == vectors


def test_delete_and_reingest(library: Backends) -> None:
    question = "Which Patagonian glacier is not retreating?"
    [glacier] = [i for i in library.store.docstore.list_documents() if i.title == "Glacier Retreat in Patagonia"]
    vectors = library.store.vectors.count()
    library.store.delete(glacier.doc_id)
    assert library.store.vectors.count() == vectors - glacier.chunks
    assert glacier.doc_id not in [hit.chunk.doc_id for hit in search(library, question, k=20)]
    report = ingest(library, inputs_of(library) / "glacier.html")
    assert [(o.status, o.doc_id) for o in report.outcomes] == [("added", glacier.doc_id)]
    assert search(library, question)[0].chunk.doc_id == glacier.doc_id
    assert library.store.vectors.count() == vectors


def test_a_changed_file_is_replaced_and_its_new_text_found(library: Backends) -> None:
    path = inputs_of(library) / "skerryvore.txt"
    original = path.read_text()
    try:
        path.write_text(original.replace("1,847 gannets", "312 puffins"))
        assert [o.status for o in ingest(library, path).outcomes] == ["replaced"]
        top = search(library, "How many puffins did the lighthouse keeper count?")[0]
        assert "312 puffins" in top.chunk.text
    finally:
        path.write_text(original)
        assert [o.status for o in ingest(library, path).outcomes] == ["replaced"]
    assert "1,847 gannets" in search(library, "How many gannets did the lighthouse keeper count?")[0].chunk.text


def test_a_reopened_store_still_answers(library: Backends, real_embedder) -> None:
    reopened = Backends(library.settings)
    reopened.embedder = real_embedder
    assert reopened.store.vectors.count() == library.store.vectors.count()
    assert search(reopened, "Which chess opening starts with 1.e4 c5?")[0].chunk.doc_id == "rec-sicilian"
