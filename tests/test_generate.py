"""Generate: source keys, the not-found sentence, and the extractive and chat generators."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import fast_settings

from assistant.backends import Backends
from assistant.components.cite import find_quote, quoted_spans, split_claims
from assistant.components.embed import HashingEmbedder
from assistant.components.generate import (
    NOT_FOUND,
    ChatGenerator,
    ExtractiveGenerator,
    is_not_found,
    number_sources,
)
from assistant.components.judge import OverlapJudge
from assistant.components.prompts import Prompts
from assistant.components.verify import Verifier
from assistant.errors import InputError
from assistant.records import Chunk, Hit, Source


def hit(text: str, title: str = "Notes", doc_id: str = "doc", page: int | None = None) -> Hit:
    return Hit(Chunk(f"{doc_id}-{len(text)}", doc_id, 0, 0, len(text), text, page), title, f"{doc_id}.txt", 1.0)


@pytest.mark.parametrize(
    ("token_sizes", "budget", "count"),
    [
        pytest.param([100, 100, 100], 250, 2, id="stops-over-budget"),
        pytest.param([100, 100, 100], 300, 3, id="exactly-the-budget"),
        pytest.param([2000], 100, 1, id="first-always-kept"),
        pytest.param([100, 300, 10], 250, 1, id="no-skipping-to-smaller-later-hits"),
        pytest.param([], 900, 0, id="no-hits"),
    ],
)
def test_number_sources_keys_hits_in_rank_order_within_budget(token_sizes: list[int], budget: int, count: int) -> None:
    hits = [hit("x" * (4 * size), doc_id=f"d{rank}") for rank, size in enumerate(token_sizes)]
    sources = number_sources(hits, budget)
    assert [source.key for source in sources] == [f"S{n}" for n in range(1, count + 1)]
    assert [source.hit for source in sources] == hits[:count]


@pytest.mark.parametrize(
    ("draft", "expected"),
    [
        pytest.param(NOT_FOUND, True, id="exact"),
        pytest.param(f"  \n{NOT_FOUND}\n", True, id="surrounding-space"),
        pytest.param(NOT_FOUND.replace(" ", "\n  "), True, id="spaced-out"),
        pytest.param(NOT_FOUND.lower(), True, id="lowercase"),
        pytest.param(NOT_FOUND.rstrip("."), True, id="no-full-stop"),
        pytest.param(f"{NOT_FOUND} The sources discuss bees.", False, id="says-it-then-answers-anyway"),
        pytest.param(f"{NOT_FOUND} [S1]", True, id="with-a-stray-marker"),
        pytest.param(f"Sadly, {NOT_FOUND.lower()}", False, id="not-at-the-start"),
        pytest.param("The documents do not say.", False, id="similar-but-different"),
        pytest.param("Ice melts [S1].", False, id="an-answer"),
        pytest.param("", False, id="empty"),
    ],
)
def test_is_not_found(draft: str, expected: bool) -> None:
    assert is_not_found(draft) is expected


MIGRATION = (
    "Some 3 million Tajiks work in Russia as labour migrants. They send money home to their families. "
    "The economy benefits from these remittances."
)
WAR = "Around 200 Tajiks fought in Syria. Most of them were recruited from Tajik migrants in Russia."


def draft_of(generator, question: str, sources: list[Source]) -> str:
    return "".join(generator.draft(question, sources))


def test_extractive_draft_quotes_sentences_with_titles_and_keys() -> None:
    sources = [Source("S1", hit(MIGRATION, "Migration Notes")), Source("S2", hit(WAR, "War Notes", "war"))]
    draft = draft_of(ExtractiveGenerator(HashingEmbedder(), sentences=2), "How many Tajiks work in Russia?", sources)
    assert draft.splitlines() == [
        '"Migration Notes" states: "Some 3 million Tajiks work in Russia as labour migrants." [S1]',
        '"War Notes" states: "Around 200 Tajiks fought in Syria." [S2]',
    ]


def test_extractive_does_not_quote_a_heading_with_the_sentence_after_it() -> None:
    text = "Migration\n\nSome 3 million Tajiks work in Russia as labour migrants."
    (line,) = ExtractiveGenerator(HashingEmbedder()).draft("Tajiks work in Russia", [Source("S1", hit(text, "T"))])
    assert line == '"T" states: "Some 3 million Tajiks work in Russia as labour migrants." [S1]'


def test_extractive_sentences_are_verbatim_and_cite_known_keys() -> None:
    sources = [Source("S1", hit(MIGRATION)), Source("S2", hit(WAR, doc_id="war"))]
    generator = ExtractiveGenerator(HashingEmbedder(), sentences=3, min_similarity=0.0)
    picked = generator.pick("Tajiks in Russia", sources)
    assert len(picked) == 3
    assert all(find_quote(sentence, source.hit.chunk.text) is not None for source, sentence in picked)
    claims = split_claims(draft_of(generator, "Tajiks in Russia", sources), {"S1", "S2"})
    assert len(claims) == 3 and all(claim.keys and not claim.unknown_keys for claim in claims)


@pytest.mark.parametrize(
    ("title", "text"),
    [
        pytest.param("Notes on the \u201eGreat Migration\u201d debate", MIGRATION, id="quoted-title"),
        pytest.param(
            "Migration Notes", MIGRATION.replace("labour migrants", "\u201eguest workers\u201c"), id="low-9-quotes"
        ),
    ],
)
def test_extractive_quotes_stay_whole_whatever_quote_marks_the_title_and_text_hold(title: str, text: str) -> None:
    generator = ExtractiveGenerator(HashingEmbedder(), sentences=1)
    draft = draft_of(generator, "How many Tajiks work in Russia?", [Source("S1", hit(text, title))])
    (claim,) = split_claims(draft, {"S1"})
    named, quotation = quoted_spans(claim.text)
    assert named.replace("'", "") == title.replace("\u201e", "").replace("\u201d", "")
    assert quotation.startswith("Some 3 million") and quotation.endswith(".")  # the whole sentence
    assert find_quote(quotation, text) is not None


@pytest.mark.parametrize(
    ("question", "texts", "min_similarity"),
    [
        pytest.param("penguins on ice floes", [MIGRATION], 0.3, id="nothing-similar-enough"),
        pytest.param("Tajiks in Russia", ["Tajiks.\nRussia only.\nShort heading"], 0.0, id="only-short-sentences"),
        pytest.param("Tajiks in Russia", [], 0.0, id="no-sources"),
    ],
)
def test_extractive_says_not_found(question: str, texts: list[str], min_similarity: float) -> None:
    sources = [Source(f"S{n}", hit(text)) for n, text in enumerate(texts, start=1)]
    pieces = list(ExtractiveGenerator(HashingEmbedder(), min_similarity=min_similarity).draft(question, sources))
    assert pieces == [NOT_FOUND]


def test_extractive_never_quotes_the_same_sentence_twice() -> None:
    sentence = "Some 3 million Tajiks work in Russia as labour migrants."
    sources = [Source("S1", hit(sentence, doc_id="a")), Source("S2", hit(sentence, doc_id="b"))]
    picked = ExtractiveGenerator(HashingEmbedder(), sentences=3).pick("Tajiks work in Russia", sources)
    assert [(source.key, text) for source, text in picked] == [("S1", sentence)]


def test_extractive_falls_back_to_the_doc_id_and_closes_up_whitespace() -> None:
    text = "Some 3 million Tajiks\n   work in Russia."
    (line,) = ExtractiveGenerator(HashingEmbedder()).draft("Tajiks work in Russia", [Source("S1", hit(text, "", "d7"))])
    assert line == '"d7" states: "Some 3 million Tajiks work in Russia." [S1]'


class ScriptedChat:
    """Streams fixed pieces and records what it was sent."""

    name = "scripted"
    model = "scripted-1"

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces
        self.calls: list[tuple[list[dict[str, str]], int]] = []

    def stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        self.calls.append((messages, max_tokens))
        yield from self.pieces

    def yes_probability(self, messages: list[dict[str, str]]) -> float:
        raise AssertionError("a generator does not judge")


def test_chat_generator_streams_the_model_pieces_unchanged() -> None:
    chat = ScriptedChat(["Ice ", "melts", " [S1]."])
    generator = ChatGenerator(chat, Prompts(), max_tokens=77)
    assert list(generator.draft("Does ice melt?", [Source("S1", hit("Ice melts in spring."))])) == chat.pieces
    assert chat.calls[0][1] == 77
    assert (generator.name, generator.model) == ("scripted", "scripted-1")


def test_chat_generator_prompt_holds_rules_sources_and_question() -> None:
    sources = [
        Source("S1", hit("Hives need insulation in winter.", "Beekeeping", "bees", page=2)),
        Source("S2", hit("Glaciers retreat.", "", "glacier-doc")),
    ]
    system, user = ChatGenerator(ScriptedChat([]), Prompts(), 100).messages("Do hives need insulation?", sources)
    assert (system["role"], user["role"]) == ("system", "user")
    assert NOT_FOUND in system["content"]
    content = user["content"]
    assert "[S1] Beekeeping (page 2):\nHives need insulation in winter." in content
    assert "[S2] glacier-doc:\nGlaciers retreat." in content  # no title: the doc id; no page: no "(page"
    assert content.index("[S1]") < content.index("[S2]") < content.index("Question: Do hives need insulation?")


@pytest.mark.parametrize(
    ("name", "kind", "label"),
    [
        pytest.param("extractive", ExtractiveGenerator, ("extractive", "none"), id="extractive"),
        pytest.param("openai", ChatGenerator, ("openai", "served-model"), id="openai"),
        pytest.param(None, ExtractiveGenerator, ("extractive", "none"), id="default-from-settings"),
    ],
)
def test_backends_build_the_generator_named(tmp_path, name: str | None, kind, label: tuple[str, str]) -> None:
    settings = fast_settings(tmp_path, generation={"generator": "extractive"}, openai={"model": "served-model"})
    generator = Backends(settings).generator(name)
    assert (type(generator), (generator.name, generator.model)) == (kind, label)


def test_backends_refuse_an_unknown_generator(tmp_path) -> None:
    with pytest.raises(InputError, match="unknown generator 'gpt'"):
        Backends(fast_settings(tmp_path)).generator("gpt")


def test_an_extractive_quote_of_a_sentence_with_its_own_quotation_stays_whole() -> None:
    text = 'Critics say the "virtuous West" and its "free" media reproach the president.'
    source = Source("S1", Hit(Chunk("c1", "d1", 0, 0, len(text), text), "Notes", "notes.txt", 1.0))
    draft = "".join(ExtractiveGenerator(HashingEmbedder(), min_similarity=-1.0).draft("virtuous West media", [source]))
    (claim,) = split_claims(draft, {"S1"})
    Verifier(HashingEmbedder(), OverlapJudge(), {}.get).check(claim, {"S1": source})
    assert claim.verdict == "supported" and claim.judgement.judge == "verbatim"
    assert claim.citations[0].quote == text
