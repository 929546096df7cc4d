"""Ingest and store: counts, idempotence, replacement, deletion, and all-or-nothing writes."""

from __future__ import annotations

import shutil
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pytest
from conftest import BAD, BAD_INPUTS, GOOD, GOOD_DOCUMENTS, fast_settings, ingest, outcomes_by_source, search

from assistant import pipeline
from assistant.backends import Backends
from assistant.components.docstore import DocStore
from assistant.components.parse import parse
from assistant.components.store import Store
from assistant.components.vectorstore import ChromaStore
from assistant.errors import BackendUnavailable, DocumentNotFound
from assistant.records import ParsedDocument, PlannedDocument, SourceFile


def chunk_ids_of(backends: Backends, doc_id: str) -> set[str]:
    return {chunk_id for chunk_id, owner, _, _ in backends.docstore.all_chunks() if owner == doc_id}


def doc_ids(backends: Backends) -> set[str]:
    return {info.doc_id for info in backends.store.docstore.list_documents()}


def stored_chunks(backends: Backends) -> int:
    return sum(info.chunks for info in backends.store.docstore.list_documents())


def hit_doc_ids(backends: Backends, question: str, k: int = 20) -> list[str]:
    return [hit.chunk.doc_id for hit in search(backends, question, k)]


def vector_ids(backends: Backends) -> set[str]:
    """Every id in the vector store (a query for more neighbours than there are vectors returns them all)."""
    vectors = backends.store.vectors
    return {chunk_id for chunk_id, _ in vectors.query(backends.embedder.embed_query("anything"), vectors.count() + 10)}


def assert_consistent(backends: Backends) -> None:
    """Every committed chunk has a vector, no vector lacks a chunk, nothing is left journalled."""
    assert backends.store.vectors.count() == stored_chunks(backends)
    assert backends.store.docstore.orphan_vectors() == []


def parse_good(name: str) -> ParsedDocument:
    [document] = parse(SourceFile.from_path(GOOD / name), max_bytes=10**7).documents
    return document


def parse_good_records() -> list[ParsedDocument]:
    return parse(SourceFile.from_path(GOOD / "records.jsonl"), max_bytes=10**7).documents


def test_folder_ingest_counts(backends: Backends, good_copy: Path) -> None:
    shutil.copy(BAD / "notes.xyz", good_copy / "notes.xyz")
    (good_copy / ".hidden.txt").write_text("A hidden file is never ingested.")
    report = ingest(backends, good_copy)
    assert (report.count("added"), report.count("skipped"), report.count("failed")) == (GOOD_DOCUMENTS, 1, 0)
    assert [o.source for o in report.outcomes if o.status == "skipped"] == [str(good_copy / "notes.xyz")]
    assert len(doc_ids(backends)) == GOOD_DOCUMENTS
    assert report.chunks == stored_chunks(backends) >= GOOD_DOCUMENTS
    assert_consistent(backends)


NAMED_BAD = [
    # (path, outcome source, reason fragment)
    (BAD / "corrupt.pdf", "corrupt.pdf", "PDF could not be read"),
    (BAD / "encrypted.pdf", "encrypted.pdf", "encrypted"),
    (BAD / "empty.txt", "empty.txt", "empty"),
    (BAD / "junk.txt", "junk.txt", "binary"),
    (BAD / "notes.xyz", "notes.xyz", "unsupported file type"),
    (BAD / "missing.txt", str(BAD / "missing.txt"), "no such file"),
]


def test_named_bad_files_fail_with_reasons_and_the_batch_goes_on(backends: Backends) -> None:
    paths = [GOOD / "skerryvore.txt", *(path for path, _, _ in NAMED_BAD), BAD / "mixed.jsonl", GOOD / "sourdough.md"]
    report = ingest(backends, *paths)
    reasons = {o.source: o.reason for o in report.failed}
    for _, source, fragment in NAMED_BAD:
        assert fragment in reasons[source] and "\n" not in reasons[source]
    assert set(reasons) == {source for _, source, _ in NAMED_BAD} | {"mixed.jsonl:2", "mixed.jsonl:3"}
    assert report.count("added") == 4
    assert {"mix-okapi", "mix-axolotl"} <= doc_ids(backends)
    assert hit_doc_ids(backends, "forest giraffe okapi")[0] == "mix-okapi"
    assert_consistent(backends)


def test_bad_files_inside_a_folder_fail_except_unknown_types_which_are_skipped(backends: Backends) -> None:
    statuses = outcomes_by_source(ingest(backends, BAD))
    assert statuses.pop(str(BAD / "notes.xyz")) == "skipped"
    assert statuses.pop("mixed.jsonl#mix-okapi") == statuses.pop("mixed.jsonl#mix-axolotl") == "added"
    assert set(statuses.values()) == {"failed"} and len(statuses) == 6


def test_reingesting_unchanged_files_adds_nothing(backends: Backends) -> None:
    first = ingest(backends, GOOD)
    listing = backends.store.docstore.list_documents()
    vectors, generation = backends.store.vectors.count(), backends.store.docstore.generation()
    again = ingest(backends, GOOD)
    counts = (again.count("unchanged"), again.count("added"), again.count("replaced"), again.chunks)
    assert counts == (GOOD_DOCUMENTS, 0, 0, 0)
    assert first.chunks == vectors == backends.store.vectors.count()
    assert backends.store.docstore.list_documents() == listing
    assert backends.store.docstore.generation() == generation


def test_the_same_file_named_twice_in_one_run_is_stored_once(backends: Backends) -> None:
    report = ingest(backends, GOOD / "skerryvore.txt", GOOD / ".." / "good" / "skerryvore.txt")
    assert sorted(o.status for o in report.outcomes) == ["added", "unchanged"]
    assert len(doc_ids(backends)) == 1
    assert_consistent(backends)


def test_a_changed_file_replaces_its_old_version(backends: Backends, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Walruses haul out on the ice floes of the Laptev Sea every summer.")
    ingest(backends, path)
    [old_id] = doc_ids(backends)
    old_chunks = chunk_ids_of(backends, old_id)
    assert old_chunks <= vector_ids(backends)
    path.write_text("Narwhals dive below the pack ice of Baffin Bay to hunt halibut.")
    report = ingest(backends, path)
    assert [(o.status, o.chunks) for o in report.outcomes] == [("replaced", 1)]
    [new_id] = doc_ids(backends)
    assert new_id != old_id
    assert not old_chunks & vector_ids(backends)
    assert old_id not in hit_doc_ids(backends, "walruses Laptev Sea ice floes")
    assert hit_doc_ids(backends, "narwhals Baffin Bay halibut") == [new_id]
    assert_consistent(backends)


def test_a_changed_jsonl_record_replaces_its_old_text(backends: Backends, tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    shutil.copy(GOOD / "records.jsonl", path)
    ingest(backends, path)
    path.write_text(path.read_text().replace("seven times", "four times after the caldera collapsed"))
    statuses = outcomes_by_source(ingest(backends, path))
    assert statuses == {
        "records.jsonl#rec-sicilian": "unchanged",
        "records.jsonl#rec-krakatoa": "replaced",
        "records.jsonl#rec-darjeeling": "unchanged",
    }
    assert "caldera" in backends.store.docstore.document("rec-krakatoa").text
    assert_consistent(backends)


def test_delete_removes_a_document_from_every_index(backends: Backends) -> None:
    ingest(backends, GOOD)
    victim = next(i for i in backends.store.docstore.list_documents() if i.title == "The Keeper's Log of Skerryvore")
    vectors_before = backends.store.vectors.count()
    victim_chunks = chunk_ids_of(backends, victim.doc_id)
    assert hit_doc_ids(backends, "Skerryvore lighthouse gannets")[0] == victim.doc_id
    backends.store.delete(victim.doc_id)
    assert victim.doc_id not in doc_ids(backends)
    assert not victim_chunks & vector_ids(backends)
    assert backends.store.vectors.count() == vectors_before - victim.chunks
    assert victim.doc_id not in hit_doc_ids(backends, "Skerryvore lighthouse gannets", k=50)
    lexical_ids = [chunk_id for chunk_id, _ in backends.store.lexical().query("Skerryvore gannets", 50)]
    assert lexical_ids == []
    assert_consistent(backends)


def test_deleted_document_stays_gone_after_reopening(settings, backends: Backends) -> None:
    ingest(backends, GOOD)
    backends.store.delete("rec-krakatoa")
    reopened = Backends(settings)
    assert "rec-krakatoa" not in hit_doc_ids(reopened, "Krakatoa eruption Sunda Strait pressure wave", k=50)
    with pytest.raises(DocumentNotFound):
        reopened.store.delete("rec-krakatoa")


def test_deleting_an_unknown_document_is_a_clean_not_found(backends: Backends) -> None:
    with pytest.raises(DocumentNotFound) as caught:
        backends.store.delete("no-such-doc")
    assert "no-such-doc" in caught.value.message and caught.value.status == 404


def test_jsonl_record_id_is_the_doc_id_reported_in_hits(backends: Backends) -> None:
    ingest(backends, GOOD)
    [top] = search(backends, "Krakatoa eruption in the Sunda Strait", k=1)
    assert (top.chunk.doc_id, top.title, top.source) == ("rec-krakatoa", "Krakatoa 1883", "records.jsonl#rec-krakatoa")
    assert backends.store.docstore.document("rec-krakatoa").metadata == {"topic": "volcano", "year": 1883}


def test_records_with_the_same_text_under_different_ids_are_both_kept(backends: Backends, tmp_path: Path) -> None:
    text = '"text": "The okapi lives in the Ituri forest."'
    (tmp_path / "one.jsonl").write_text(f'{{"id": "a", {text}}}\n')
    (tmp_path / "two.jsonl").write_text(f'{{"id": "b", {text}}}\n{{"id": "c", {text}}}\n')
    first, second = ingest(backends, tmp_path / "one.jsonl"), ingest(backends, tmp_path / "two.jsonl")
    assert [o.status for o in first.outcomes + second.outcomes] == ["added"] * 3
    assert doc_ids(backends) == {"a", "b", "c"}
    assert_consistent(backends)
    okapi_hits = [hit for hit in search(backends, "okapi Ituri forest", k=20) if "okapi" in hit.chunk.text]
    assert len(okapi_hits) == 1  # identical passages collapse to one


def test_a_pdf_hit_reports_its_page(backends: Backends) -> None:
    ingest(backends, GOOD / "orbits.pdf")
    hits = search(backends, "Hohmann transfer orbit 259 days Mars")
    assert hits[0].title == "Orbital Mechanics Primer"
    assert {hit.chunk.page for hit in hits} <= {1, 2}


@pytest.mark.parametrize(
    "name", ["..  spaced  ..txt", "ünïcødé 日本語 résumé.md", "$(touch pwned); 'q\" `x`.txt", "new\nline.txt"]
)
def test_hostile_file_names_ingest(backends: Backends, tmp_path: Path, name: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / name).write_text("Harbour seals haul out on the skerries of Orkney.")
    report = ingest(backends, folder / ".." / "in" / name)
    assert [(o.source, o.status) for o in report.outcomes] == [(name, "added")]
    assert search(backends, "harbour seals Orkney")[0].source == name
    assert not (tmp_path / "pwned").exists()


def test_oversize_files_fail_while_small_ones_pass(tmp_path: Path) -> None:
    backends = Backends(fast_settings(tmp_path / "data", ingest={"max_file_mb": 0.0004}))
    big = tmp_path / "big.txt"
    big.write_text("Large text about the migration of the Arctic tern. " * 10)
    report = ingest(backends, big, GOOD / "sourdough.md")
    statuses = {o.source: (o.status, o.reason) for o in report.outcomes}
    assert statuses["big.txt"][0] == "failed" and "limit" in statuses["big.txt"][1]
    assert statuses["sourdough.md"][0] == "added"


def test_progress_is_reported_per_stage(tmp_path: Path) -> None:
    backends = Backends(fast_settings(tmp_path, ingest={"batch_chunks": 2}))
    seen: list[tuple[str, int, int]] = []
    report = pipeline.ingest_paths([GOOD], backends, on_progress=lambda *event: seen.append(event))
    files = len(list(GOOD.iterdir()))
    assert [e for e in seen if e[0] == "parse"][-1] == ("parse", files, files)
    assert len([e for e in seen if e[0] == "embed"]) > 1, "several batches, each reported"
    assert [e for e in seen if e[0] == "embed"][-1] == ("embed", report.chunks, report.chunks)


class FailingVectors:
    """A real Chroma store whose `add` writes the vectors, then fails, for chosen chunk ids (or all)."""

    def __init__(self, inner: ChromaStore, poisoned: set[str] | None = None) -> None:
        self.inner = inner
        self.poisoned = poisoned

    def add(self, ids, vectors) -> None:
        self.inner.add(ids, vectors)
        if self.poisoned is None or self.poisoned & set(ids):
            raise BackendUnavailable("could not store vectors: connection reset")

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_a_vector_store_failure_fails_all_documents_and_leaves_nothing(backends: Backends) -> None:
    backends.store.vectors = FailingVectors(backends.store.vectors)
    report = ingest(backends, GOOD)
    assert report.count("failed") == GOOD_DOCUMENTS and report.count("added") == 0
    assert all("connection reset" in o.reason for o in report.failed)
    assert doc_ids(backends) == set() and backends.store.vectors.count() == 0
    assert_consistent(backends)


def test_a_failing_batch_leaves_no_partial_trace_and_the_others_go_on(tmp_path: Path) -> None:
    backends = Backends(fast_settings(tmp_path, ingest={"batch_chunks": 1}))  # one document per batch
    krakatoa = backends.chunker.chunk(next(d for d in parse_good_records() if d.doc_id == "rec-krakatoa"))
    backends.store.vectors = FailingVectors(backends.store.vectors, poisoned={c.chunk_id for c in krakatoa})
    report = ingest(backends, GOOD)
    statuses = outcomes_by_source(report)
    assert statuses["records.jsonl#rec-krakatoa"] == "failed"
    stored = doc_ids(backends)
    assert "rec-krakatoa" not in stored
    assert {o.doc_id for o in report.outcomes if o.status == "added"} == stored
    assert "rec-krakatoa" not in hit_doc_ids(backends, "Krakatoa Sunda Strait", k=50)
    assert_consistent(backends)


def test_a_docstore_error_after_the_vectors_were_written_removes_them(backends: Backends, monkeypatch) -> None:
    ingest(backends, GOOD / "skerryvore.txt")
    before = backends.store.vectors.count()

    def broken_commit(self, planned):
        raise RuntimeError("disk I/O error")

    monkeypatch.setattr(DocStore, "commit", broken_commit)
    with pytest.raises(RuntimeError):
        ingest(backends, GOOD / "sourdough.md")
    assert backends.store.vectors.count() == before
    assert_consistent(backends)


def test_a_crash_between_vectors_and_commit_is_cleaned_up_by_the_next_writer(settings, backends, monkeypatch) -> None:
    ingest(backends, GOOD / "skerryvore.txt")
    before = backends.store.vectors.count()

    class ProcessDied(BaseException):
        pass

    def die(self, planned):
        raise ProcessDied

    monkeypatch.setattr(DocStore, "commit", die)
    monkeypatch.setattr(Store, "_discard_orphans", lambda self: None)  # a dead process cleans nothing up
    with pytest.raises(ProcessDied):
        ingest(backends, GOOD)
    assert backends.store.vectors.count() > before, "the simulated crash should leave orphan vectors"
    monkeypatch.undo()
    reopened = Backends(settings)
    assert search(reopened, "Skerryvore gannets")[0].title == "The Keeper's Log of Skerryvore"
    assert reopened.store.vectors.count() > before, "readers never delete: the orphans may be a live write"
    ingest(reopened, GOOD / "skerryvore.txt")  # the next writer, even one with nothing to add
    assert reopened.store.vectors.count() == before
    assert doc_ids(reopened) == doc_ids(backends) and len(doc_ids(reopened)) == 1
    assert_consistent(reopened)


def test_a_write_in_flight_survives_another_process_opening_the_store(settings, backends: Backends) -> None:
    """Opening, searching and listing while another process has written vectors but not yet committed."""
    ingest(backends, GOOD / "skerryvore.txt")
    document = parse_good("sourdough.md")
    planned = PlannedDocument(document, backends.chunker.chunk(document))
    ids = [chunk.chunk_id for chunk in planned.chunks]
    backends.store.docstore.mark_pending(ids)
    backends.store.vectors.add(ids, backends.embedder.embed_documents([c.text for c in planned.chunks]))
    other = Backends(settings)
    search(other, "sourdough starter hydration")
    other.docstore.list_documents()
    backends.store.docstore.commit([planned])
    assert "Sourdough Hydration Guide" in {hit.title for hit in search(other, "sourdough starter hydration")}
    assert_consistent(backends)


def test_two_processes_ingesting_the_same_file_stay_consistent(settings, backends: Backends) -> None:
    other = Backends(settings)
    document = parse_good("skerryvore.txt")
    plans = [(b, b.store.plan(document), b.chunker.chunk(document)) for b in (backends, other)]
    assert [plan for _, plan, _ in plans] == [("added", None), ("added", None)]  # both looked before either wrote
    for writer, _, chunks in plans:
        vectors = writer.embedder.embed_documents([chunk.text for chunk in chunks])
        writer.store.write([PlannedDocument(document, chunks)], vectors)
    assert doc_ids(other) == {document.doc_id}
    assert_consistent(other)


def test_journalled_vectors_without_chunks_are_deleted_by_the_next_writer(settings, backends: Backends) -> None:
    ingest(backends, GOOD / "skerryvore.txt")
    before = backends.store.vectors.count()
    backends.store.docstore.mark_pending(["orphan-1", "orphan-2"])
    backends.store.vectors.add(["orphan-1", "orphan-2"], np.ones((2, 384), dtype=np.float32) / 384**0.5)
    assert Backends(settings).store.vectors.count() == before + 2
    with pytest.raises(DocumentNotFound):
        Backends(settings).store.delete("no-such-doc")  # a writer, though it finds nothing to delete
    assert backends.store.vectors.count() == before


def test_an_unreachable_vector_store_keeps_orphans_journalled(settings, backends: Backends) -> None:
    backends.store.docstore.mark_pending(["orphan-1"])

    class Down:
        def writing(self):
            return nullcontext()

        def delete(self, ids):
            raise BackendUnavailable("could not delete vectors: down")

    with pytest.raises(DocumentNotFound):
        Store(backends.docstore, Down(), settings.index_dir).delete("no-such-doc")
    assert backends.docstore.orphan_vectors() == ["orphan-1"]


def test_an_unreachable_chroma_server_is_backend_unavailable(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path, store={"chroma_url": "http://127.0.0.1:9"})
    with pytest.raises(BackendUnavailable) as caught:
        _ = Backends(settings).store
    assert "127.0.0.1:9" in caught.value.message and caught.value.status == 503


def test_different_index_settings_keep_separate_indexes(tmp_path: Path) -> None:
    small = Backends(fast_settings(tmp_path, ingest={"chunk_size": 32, "chunk_overlap": 8}))
    ingest(small, GOOD)
    large = Backends(fast_settings(tmp_path, ingest={"chunk_size": 256}))
    assert doc_ids(large) == set() and large.store.vectors.count() == 0
    assert len(doc_ids(small)) == GOOD_DOCUMENTS


def test_a_file_changed_to_another_files_text_drops_its_old_version(backends: Backends, tmp_path: Path) -> None:
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("Walruses haul out on the ice floes of the Laptev Sea every summer.")
    second.write_text("Narwhals dive below the pack ice of Baffin Bay to hunt halibut.")
    ingest(backends, first, second)
    first.write_text(second.read_text())
    ingest(backends, first)
    assert not any("Walruses" in hit.chunk.text for hit in search(backends, "walruses Laptev Sea", k=20))
    assert_consistent(backends)


def test_every_bad_input_fails_alone_without_stopping_the_batch(backends: Backends, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name, content, _ in BAD_INPUTS:
        (folder / name).write_bytes(content.read_bytes() if isinstance(content, Path) else content)
    report = ingest(backends, *(folder / name for name, _, _ in BAD_INPUTS), GOOD / "skerryvore.txt")
    assert {o.source for o in report.failed} == {name for name, _, _ in BAD_INPUTS}
    assert all(o.reason and "\n" not in o.reason for o in report.failed)
    assert [o.source for o in report.outcomes if o.status == "added"] == ["skerryvore.txt"]


def test_identical_files_share_a_document_and_each_keeps_it_alive(backends: Backends, tmp_path: Path) -> None:
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    text = "Walruses haul out on the ice floes of the Laptev Sea every summer."
    first.write_text(text)
    second.write_text(text)
    ingest(backends, first)
    [outcome] = ingest(backends, second).outcomes
    assert (outcome.status, outcome.chunks) == ("unchanged", 0) and "same text" in outcome.reason
    first.write_text("Narwhals dive below the pack ice of Baffin Bay to hunt halibut.")
    assert [o.status for o in ingest(backends, first).outcomes] == ["replaced"]
    assert len(doc_ids(backends)) == 2, "second.txt still holds the walrus text"
    assert "Walruses" in search(backends, "walruses Laptev Sea")[0].chunk.text
    assert_consistent(backends)


def test_a_key_moving_to_a_text_whose_write_failed_keeps_its_old_version(tmp_path: Path) -> None:
    backends = Backends(fast_settings(tmp_path / "data"))
    old, new = tmp_path / "a.txt", tmp_path / "c.txt"
    old.write_text("Walruses haul out on the ice floes of the Laptev Sea every summer.")
    ingest(backends, old)
    new.write_text("Narwhals dive below the pack ice of Baffin Bay to hunt halibut.")
    old.write_text(new.read_text())
    backends.store.vectors = FailingVectors(backends.store.vectors)
    statuses = outcomes_by_source(ingest(backends, new, old))
    assert statuses == {"c.txt": "failed", "a.txt": "failed"}
    assert "Walruses" in search(backends, "walruses Laptev Sea")[0].chunk.text
    assert_consistent(backends)


def test_a_changed_title_or_metadata_is_a_new_version(backends: Backends, tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": "r1", "title": "Old title", "text": "Seven seas.", "year": 1}\n')
    ingest(backends, path)
    path.write_text('{"id": "r1", "title": "New title", "text": "Seven seas.", "year": 2}\n')
    assert [o.status for o in ingest(backends, path).outcomes] == ["replaced"]
    stored = backends.docstore.document("r1")
    assert (stored.title, stored.metadata) == ("New title", {"year": 2})
    assert search(backends, "seven seas")[0].title == "New title"
    assert_consistent(backends)


def test_a_chunk_size_over_the_model_limit_is_refused(tmp_path: Path, monkeypatch) -> None:
    from assistant.components.embed import HashingEmbedder
    from assistant.errors import InputError

    monkeypatch.setattr(HashingEmbedder, "max_tokens", 128)
    backends = Backends(fast_settings(tmp_path, ingest={"chunk_size": 256}))
    with pytest.raises(InputError, match="limit of 128 tokens"):
        _ = backends.chunker


def test_a_process_does_not_reopen_its_embedded_chroma_for_its_own_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reopening is for what other processes wrote (tests/test_cli.py has that case): this process's
    own ingests and deletes never make it reopen, so its queries never race a reopen."""
    from assistant.components import vectorstore

    backends = Backends(fast_settings(tmp_path / "data"))
    for name, text in [("gannets.txt", "Gannets dive for mackerel."), ("puffins.txt", "Puffins nest on Mykines.")]:
        (tmp_path / name).write_text(text)
    ingest(backends, tmp_path / "gannets.txt")
    opened = []
    real = vectorstore._persistent_client
    monkeypatch.setattr(vectorstore, "_persistent_client", lambda path: opened.append(path) or real(path))
    ingest(backends, tmp_path / "puffins.txt")
    assert search(backends, "puffins Mykines")[0].dense_rank == 1
    backends.store.delete(search(backends, "gannets mackerel")[0].chunk.doc_id)
    search(backends, "gannets")
    assert opened == []
    backends.docstore.close()


def test_documents_whose_vectors_are_gone_are_embedded_again(backends: Backends) -> None:
    ingest(backends, GOOD)
    lost = backends.store.docstore.list_documents()[0].doc_id
    backends.store.vectors.delete(backends.store.docstore.chunk_ids(lost))  # a Chroma folder lost, say
    report = ingest(backends, GOOD)
    repaired = [o for o in report.outcomes if o.reason == pipeline.REPAIRED]
    assert [o.doc_id for o in repaired] == [lost] and repaired[0].status == "added"
    assert report.count("unchanged") == GOOD_DOCUMENTS - 1
    assert_consistent(backends)
    assert ingest(backends, GOOD).count("unchanged") == GOOD_DOCUMENTS  # and then nothing more to do


def test_moving_to_a_chroma_server_embeds_the_stored_documents_there(tmp_path: Path, chroma_server: str) -> None:
    """The document store stays in the data folder; an empty collection on the server is filled by
    the next ingest, instead of every document being reported unchanged with no vectors behind it."""
    ingest(Backends(fast_settings(tmp_path / "data")), GOOD)
    served = Backends(fast_settings(tmp_path / "data", store={"chroma_url": chroma_server}))
    report = ingest(served, GOOD)
    assert report.count("added") == GOOD_DOCUMENTS and report.count("unchanged") == 0
    assert all(o.reason == pipeline.REPAIRED for o in report.outcomes if o.status == "added")
    assert_consistent(served)
    assert search(served, "How long does a Hohmann transfer to Mars take?")[0].dense_rank == 1


def test_with_the_vector_store_down_unchanged_files_stay_unchanged(backends: Backends) -> None:
    ingest(backends, GOOD)
    backends.store.vectors.delete(backends.store.docstore.chunk_ids(backends.store.docstore.list_documents()[0].doc_id))

    class Down:
        def __getattr__(self, name: str):
            def unreachable(*args, **kwargs):
                raise BackendUnavailable("could not reach Chroma: down")

            return nullcontext if name == "writing" else unreachable

    backends.store.vectors = Down()
    report = ingest(backends, GOOD)
    assert report.count("unchanged") == GOOD_DOCUMENTS  # not a failed run: what it cannot check, it leaves
