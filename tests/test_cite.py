"""Cite: splitting a draft into claims with source keys, and finding quotes verbatim."""

from __future__ import annotations

import pytest

from assistant.components.cite import (
    QUOTATION_RUN,
    find_quote,
    normalise,
    quoted_spans,
    sentence_spans,
    split_claims,
)

KNOWN = {"S1", "S2", "S3"}

SPLITS = [
    # (draft, expected [(claim text, keys, unknown keys)])
    pytest.param(
        "Ice melts [S1]. Snow falls [S2].",
        [("Ice melts.", ["S1"], []), ("Snow falls.", ["S2"], [])],
        id="one-marker-per-sentence",
    ),
    pytest.param(
        "Ice melts [S1]. Snow falls.[S2][S9]",
        [("Ice melts.", ["S1"], []), ("Snow falls.", ["S2"], ["S9"])],
        id="docstring-unknown-key-stripped-and-kept",
    ),
    pytest.param("It rains [S7].", [("It rains.", [], ["S7"])], id="only-an-unknown-key"),
    pytest.param(
        "It rains. [S1] It snows [S2].",
        [("It rains.", ["S1"], []), ("It snows.", ["S2"], [])],
        id="marker-after-full-stop-belongs-to-sentence-before",
    ),
    pytest.param("It rains [S1].[S2]", [("It rains.", ["S1", "S2"], [])], id="markers-both-sides-of-stop"),
    pytest.param("It rains [S1, S3].", [("It rains.", ["S1", "S3"], [])], id="comma-list"),
    pytest.param("It rains [s2; S3].", [("It rains.", ["S2", "S3"], [])], id="semicolon-lowercase"),
    pytest.param("It rains [S1 & S2].", [("It rains.", ["S1", "S2"], [])], id="ampersand"),
    pytest.param("It rains [Source 2].", [("It rains.", ["S2"], [])], id="source-word"),
    pytest.param("It rains [1].", [("It rains.", ["S1"], [])], id="bare-number"),
    pytest.param("It rains [S01].", [("It rains.", ["S1"], [])], id="leading-zero"),
    pytest.param("It rains [S1][S2].", [("It rains.", ["S1", "S2"], [])], id="adjacent-markers"),
    pytest.param("It rains [S1][S1].", [("It rains.", ["S1"], [])], id="repeated-key-once"),
    pytest.param("It rains [S3][S1].", [("It rains.", ["S3", "S1"], [])], id="keys-in-the-order-cited"),
    pytest.param("It rains [S1-S3].", [("It rains.", ["S1", "S2", "S3"], [])], id="range"),
    pytest.param("It rains [S1\u2013S2, S3].", [("It rains.", ["S1", "S2", "S3"], [])], id="en-dash-range-and-key"),
    pytest.param("It rains [S1-S900].", [("It rains.", ["S1"], ["S900"])], id="range-too-long-is-its-ends"),
    pytest.param("It rains (S1).", [("It rains.", ["S1"], [])], id="parenthesised-key"),
    pytest.param("It rains (S1, S2).", [("It rains.", ["S1", "S2"], [])], id="parenthesised-keys"),
    pytest.param("Step (1) is done.", [("Step (1) is done.", [], [])], id="parenthesised-number-is-text"),
    pytest.param("It rains.\nSources: [S1], [S2]", [("It rains.", ["S1", "S2"], [])], id="sources-line"),
    pytest.param("It rains. (S1) (S2)", [("It rains.", ["S1", "S2"], [])], id="parenthesised-keys-after-the-stop"),
    pytest.param(
        'He said "stop now." [S1] [S2] Then he left [S3].',
        [('He said "stop now."', ["S1", "S2"], []), ("Then he left.", ["S3"], [])],
        id="spaced-markers-after-a-quotation",
    ),
    pytest.param(
        "Prices rose in [2019-2020] by 5% [S1].",
        [("Prices rose in [2019-2020] by 5%.", ["S1"], [])],
        id="a-range-of-years-is-text",
    ),
    pytest.param(
        'The pipe is 12" wide [S1]. It carries water [S2].',
        [('The pipe is 12" wide.', ["S1"], []), ("It carries water.", ["S2"], [])],
        id="an-inch-mark-opens-no-quotation",
    ),
    pytest.param("Prices [S1] rose sharply.", [("Prices rose sharply.", ["S1"], [])], id="marker-mid-sentence"),
    pytest.param("[S1] It rains.", [("It rains.", ["S1"], [])], id="marker-before-first-sentence"),
    pytest.param("It rains [S1]", [("It rains", ["S1"], [])], id="no-full-stop"),
    pytest.param("It was [sic] cold [S1].", [("It was [sic] cold.", ["S1"], [])], id="other-brackets-kept"),
    pytest.param(
        "Prices rose [S1]! Did they fall? [S2]",
        [("Prices rose!", ["S1"], []), ("Did they fall?", ["S2"], [])],
        id="exclamation-and-question",
    ),
    pytest.param("It rains.\n[S1][S2]", [("It rains.", ["S1", "S2"], [])], id="bare-marker-line"),
    pytest.param("It rains [S1].\n[S9]", [("It rains.", ["S1"], ["S9"])], id="bare-unknown-marker-line"),
    pytest.param(
        "It rains.\n\n[S2]\nIt snows [S3].",
        [("It rains.", ["S2"], []), ("It snows.", ["S3"], [])],
        id="bare-marker-line-between-paragraphs",
    ),
    pytest.param(
        'He said "the sea is cold and grey." [S1] Then he left [S2].',
        [('He said "the sea is cold and grey."', ["S1"], []), ("Then he left.", ["S2"], [])],
        id="marker-after-closing-quote",
    ),
    pytest.param(
        "- First point [S1].\n- Second point [S2].",
        [("First point.", ["S1"], []), ("Second point.", ["S2"], [])],
        id="dash-bullets",
    ),
    pytest.param(
        "1. First point [S1].\n2) Second point [S2].",
        [("First point.", ["S1"], []), ("Second point.", ["S2"], [])],
        id="numbered-bullets",
    ),
    pytest.param("It rains. It snows.", [("It rains.", [], []), ("It snows.", [], [])], id="no-markers"),
    pytest.param("[S1]", [], id="only-a-marker"),
    pytest.param("", [], id="empty"),
    pytest.param(
        "He said \u201cthe sea is cold and grey.\u201d [S1] Then he left [S2].",
        [('He said "the sea is cold and grey."', ["S1"], []), ("Then he left.", ["S2"], [])],
        id="marker-after-curly-closing-quote-straightened",
    ),
    pytest.param(
        'Nationalists shouted "Tajiks to Tajikistan!" at rallies [S3].',
        [('Nationalists shouted "Tajiks to Tajikistan!" at rallies.', ["S3"], [])],
        id="exclamation-inside-a-quotation",
    ),
    pytest.param(
        'He said "We must understand this. It matters" to them [S1]. Then he left [S2].',
        [('He said "We must understand this. It matters" to them.', ["S1"], []), ("Then he left.", ["S2"], [])],
        id="two-sentences-inside-a-quotation",
    ),
    pytest.param(
        "The attack happened in May. Four men were arrested [S1].",
        [("The attack happened in May.", [], []), ("Four men were arrested.", ["S1"], [])],
        id="a-short-capitalised-word-ends-a-sentence",
    ),
    pytest.param(
        "Prices rose [S1]. Dr. Smith agrees [S2].",
        [("Prices rose.", ["S1"], []), ("Dr. Smith agrees.", ["S2"], [])],
        id="title-abbreviation-after-a-sentence",
    ),
    pytest.param(
        "The worker in Helix Energy Solutions v. Hewitt was not paid a salary [S1].",
        [("The worker in Helix Energy Solutions v. Hewitt was not paid a salary.", ["S1"], [])],
        id="a-case-name-is-not-cut-after-v",
    ),
]


@pytest.mark.parametrize(("draft", "expected"), SPLITS)
def test_split_claims(draft: str, expected: list[tuple[str, list[str], list[str]]]) -> None:
    claims = split_claims(draft, KNOWN)
    assert [(c.text, c.keys, c.unknown_keys) for c in claims] == expected


def test_an_unclosed_quotation_does_not_swallow_the_answer() -> None:
    claims = split_claims('He wrote "never. ' + "The sea was cold that year. " * 60 + "It ended [S1].", KNOWN)
    assert len(claims) > 30 and max(len(c.text) for c in claims) < QUOTATION_RUN
    assert claims[-1].text == "It ended." and claims[-1].keys == ["S1"]


def test_split_claims_leaves_verdicts_unset() -> None:
    (claim,) = split_claims("Ice melts [S1].", KNOWN)
    assert (claim.verdict, claim.citations, claim.reasons, claim.judgement) == ("uncited", [], [], None)


DOC = 'Out on the "cold"\nsea we sailed. The sea was cold. Later, the sea was cold again.'
TWICE = "the sea was cold. Then the sea was cold."

QUOTES = [
    # (quote, document, within, expected raw text of the match or None)
    pytest.param("the  \u201ccold\u201d sea", DOC, None, 'the "cold"\nsea', id="docstring-curly-quotes-and-spaces"),
    pytest.param("we sailed. The sea", DOC, None, "we sailed. The sea", id="exact"),
    pytest.param("sea\twe", DOC, None, "sea we", id="tab-matches-space"),
    pytest.param("  the sea was cold  ", DOC, None, "the sea was cold", id="outer-space-ignored"),
    pytest.param("it's", "It\u2019s fine; it\u2019s  here", None, "it\u2019s", id="straight-apostrophe-finds-curly"),
    pytest.param("\u2018quoted\u2019", "a 'quoted' word", None, "'quoted'", id="curly-single-finds-straight"),
    pytest.param("Out on the ... we sailed", DOC, None, 'Out on the "cold"\nsea we sailed', id="three-dots"),
    pytest.param("Out on the \u2026 we sailed", DOC, None, 'Out on the "cold"\nsea we sailed', id="ellipsis-char"),
    pytest.param("Out on the [...] we sailed", DOC, None, 'Out on the "cold"\nsea we sailed', id="bracketed-dots"),
    pytest.param("... we sailed", DOC, None, "we sailed", id="leading-ellipsis"),
    pytest.param("we sailed ... Out on", DOC, None, None, id="ellipsis-parts-out-of-order"),
    pytest.param("the sea was hot", DOC, None, None, id="changed-word"),
    pytest.param("The Sea Was Cold", DOC, None, None, id="case-matters"),
    pytest.param("...", DOC, None, None, id="only-an-ellipsis"),
    pytest.param("", DOC, None, None, id="empty"),
]


@pytest.mark.parametrize(("quote", "document", "within", "expected"), QUOTES)
def test_find_quote_returns_raw_offsets(quote: str, document: str, within, expected: str | None) -> None:
    span = find_quote(quote, document, within)
    if expected is None:
        assert span is None
    else:
        assert span is not None and document[span[0] : span[1]] == expected


def test_find_quote_docstring_offsets() -> None:
    assert find_quote("the  \u201ccold\u201d sea", 'Out on the "cold"\nsea we sailed.') == (7, 21)


@pytest.mark.parametrize(
    ("within", "start"),
    [
        pytest.param(None, 0, id="no-preference-first"),
        pytest.param((18, len(TWICE)), 23, id="prefers-the-cited-passage"),
        pytest.param((0, 17), 0, id="first-inside-passage"),
        pytest.param((5, 12), 0, id="none-inside-falls-back-to-first"),
    ],
)
def test_find_quote_within_prefers_a_match_in_the_span(within, start: int) -> None:
    assert find_quote("the sea was cold", TWICE, within) == (start, start + len("the sea was cold"))


def test_find_quote_within_still_needs_the_rest_of_an_ellipsis() -> None:
    document = "alpha beta. alpha gamma."
    # The occurrence of "alpha" inside `within` has no "beta" after it, so the first one is used.
    assert find_quote("alpha ... beta", document, within=(12, 24)) == (0, 10)


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        pytest.param('He said "the sea is cold and grey" and left.', ["the sea is cold and grey"], id="straight"),
        pytest.param("He said \u201cthe sea is cold and grey\u201d.", ["the sea is cold and grey"], id="curly"),
        pytest.param('He said "cold" and left.', [], id="short-scare-quote"),
        pytest.param('A "verylongwordwithoutspaces" here.', [], id="one-long-word"),
        pytest.param(
            '"First quote is here" and "second quote is here".',
            ["First quote is here", "second quote is here"],
            id="two-quotations",
        ),
        pytest.param("He said 'the sea is cold and grey' and left.", [], id="single-quotes-are-not-quotations"),
        pytest.param("No quotation at all.", [], id="none"),
    ],
)
def test_quoted_spans(sentence: str, expected: list[str]) -> None:
    assert quoted_spans(sentence) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '  a\n\t \u201cb\u201d  \u2018c\u2019 "d" ', "a 'b' 'c' 'd'", id="spaces-and-every-quote-mark-as-one"
        ),
        pytest.param("plain", "plain", id="unchanged"),
        pytest.param(" \n ", "", id="only-space"),
        pytest.param("a\u00a0\u00a0b", "a b", id="non-breaking-spaces"),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("First one. Second one!  \n Third?", ["First one.", "Second one!", "Third?"], id="three"),
        pytest.param("Only one sentence here", ["Only one sentence here"], id="one-without-stop"),
        pytest.param(
            "Heading line\n\nNext sentence here.",
            ["Heading line", "Next sentence here."],
            id="paragraph-break-ends-a-heading",
        ),
        pytest.param(
            "Migration\nSome 3 million work abroad. Most in Russia.",
            ["Migration", "Some 3 million work abroad.", "Most in Russia."],
            id="short-line-before-a-capital-is-a-heading",
        ),
        pytest.param(
            "Prices rose in 2020,\nand fell later.",
            ["Prices rose in 2020,\nand fell later."],
            id="line-wrapped-mid-sentence-is-not-split",
        ),
        pytest.param(
            "",
            [],
            id="empty-passage",
        ),
        pytest.param(
            'They demand "Tajiks to Tajikistan!" and "Russia for the Russians". Next one.',
            ['They demand "Tajiks to Tajikistan!" and "Russia for the Russians".', "Next one."],
            id="a-sentence-going-on-after-a-quotation",
        ),
        pytest.param(
            "In Helix Energy Solutions v. Hewitt the Court ruled. It was 6-3.",
            ["In Helix Energy Solutions v. Hewitt the Court ruled.", "It was 6-3."],
            id="a-case-name-is-not-cut-after-v",
        ),
    ],
)
def test_sentence_spans(text: str, expected: list[str]) -> None:
    spans = sentence_spans(text)
    assert [text[start:end] for start, end in spans] == expected
    assert all(text[start:end] == text[start:end].strip() for start, end in spans)


def test_sentence_spans_docstring_offsets() -> None:
    # A short line before a capitalised one is a heading, a sentence of its own.
    assert sentence_spans("Migration\nSome 3 million work abroad. Most in Russia.") == [(0, 9), (10, 37), (38, 53)]


def test_an_ellipsis_does_not_stand_for_pages() -> None:
    document = "Some 1 million Tajiks work in Russia. " + "Filler words here. " * 400 + "It had 9 million visitors."
    assert find_quote("Tajiks ... 9 million", document) is None
    assert find_quote("Some ... Russia", document) == (0, 36)


def test_a_marker_with_absurdly_many_digits_is_not_a_key() -> None:
    (claim,) = split_claims(f"Prices rose [S{'9' * 5000}].", {"S1"})
    assert claim.keys == [] and claim.unknown_keys == []
