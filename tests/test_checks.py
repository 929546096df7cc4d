"""Checks: the numbers and names a claim states must appear in its evidence."""

from __future__ import annotations

import pytest

from assistant.components.checks import missing_names, missing_numbers, names_in, numbers_in


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "About 1.5 million people, 30% of them in 2023, twenty-five of them",
            {1_500_000, 30, 2023, 25},
            id="docstring",
        ),
        pytest.param(
            "About 1.5 million people, 30% of them in 2023, and two dozen",
            {1_500_000, 30, 2023, 24},
            id="mixed",
        ),
        pytest.param("1,500", {1500}, id="thousands-separator"),
        # A number with a scale word is only the scaled value, so "3 million" is not matched by "3".
        pytest.param("1.5 thousand", {1500}, id="decimal-with-scale"),
        pytest.param("fifteen hundred", {1500}, id="number-words-with-scale"),
        pytest.param("147,182,123 people", {147_182_123}, id="census-figure"),
        pytest.param("88.73 per cent", {88.73}, id="decimal"),
        pytest.param("allegedly $10,000", {10_000}, id="currency"),
        pytest.param("2.5bn", {2_500_000_000}, id="bn-suffix"),
        pytest.param("3 mln", {3_000_000}, id="mln-suffix"),
        pytest.param("ca. 4.9 million Uzbeks", {4_900_000}, id="after-an-abbreviation"),
        pytest.param("a dozen", {12}, id="dozen"),
        pytest.param("No numbers here", set(), id="none"),
        pytest.param("twenty-five workers", {25}, id="hyphenated-number-words"),
        pytest.param("twenty five workers", {25}, id="spaced-number-words"),
        # Grouped by spaces or with a decimal comma: both readings, the number and the numbers side by side.
        pytest.param("2 345 678 people", {2_345_678, 2, 345, 678}, id="space-grouped"),
        pytest.param("10\u202f000 workers", {10_000, 10, 0}, id="narrow-no-break-space-grouped"),
        pytest.param("rose 10,5 %", {10.5, 10, 5}, id="decimal-comma"),
        pytest.param("2.345.678,5", {2_345_678.5}, id="dot-grouped-with-decimal-comma"),
        pytest.param("12.345,67 euros", {12_345.67}, id="one-dot-group-with-decimal-comma"),
        pytest.param("2.345 tonnes", {2.345}, id="one-dot-group-is-a-decimal"),
        pytest.param("in 2019 345 people", {2019, 345}, id="a-year-is-not-a-group"),
    ],
)
def test_numbers_in(text: str, expected: set[float]) -> None:
    assert numbers_in(text) == expected


def test_the_forms_the_docstring_promises_agree() -> None:
    assert all(1500 in numbers_in(form) for form in ("1,500", "1.5 thousand", "fifteen hundred"))


@pytest.mark.parametrize(
    ("claim", "evidence", "missing"),
    [
        pytest.param("It has 12 million people", "a city of 12,000,000", [], id="docstring-scaled-equals-digits"),
        pytest.param("It has 13 million people", "a city of 12,000,000", ["13 million"], id="wrong-figure"),
        pytest.param("About 3.1 million", "about 3 million", ["3.1 million"], id="rounded-differently"),
        pytest.param("627 thousand went", "more than 627,000 Tajiks", [], id="thousand-word-vs-separator"),
        pytest.param("88.7 per cent", "88.73 per cent", ["88.7"], id="decimal-truncated"),
        pytest.param("In 2023, 627,000 went", "in 2023 more than 627,000 went", [], id="year-and-count"),
        pytest.param("a dozen cases", "12 cases", [], id="dozen-is-twelve"),
        pytest.param("1.5 million", "1.5 mln", [], id="million-vs-mln"),
        pytest.param("3 million people", "the 3 children", ["3 million"], id="scaled-not-matched-by-bare-number"),
        pytest.param("25 workers", "twenty-five workers", [], id="digits-vs-hyphenated-words"),
        pytest.param("one of the reasons", "nothing numeric", [], id="one-is-not-required"),
        pytest.param("two reasons", "nothing numeric", ["two"], id="two-is-required"),
        pytest.param("5 people died in 2020", "nothing numeric", ["5", "2020"], id="every-missing-number"),
        pytest.param("Prices rose sharply", "nothing numeric", [], id="no-numbers-in-claim"),
        pytest.param("It rose 10.5%", "it rose 10,5 %", [], id="decimal-point-vs-comma"),
        pytest.param("2,345,678 people", "2 345 678 people", [], id="comma-vs-space-groups"),
        pytest.param("2,345,678 people", "2.345.678 people", [], id="comma-vs-dot-groups"),
        pytest.param("costs 12,345.67 euros", "costs 12.345,67 euros", [], id="european-price"),
        pytest.param("It rose 10,5%", "it rose 10%", ["10,5"], id="decimal-comma-not-matched-by-its-whole-part"),
        pytest.param("items 1,2 and 3", "items 1, 2 and 3", [], id="a-list-read-as-a-list"),
        pytest.param("1,500 people", "1.5 people", ["1,500"], id="comma-thousands-are-never-a-decimal"),
    ],
)
def test_missing_numbers(claim: str, evidence: str, missing: list[str]) -> None:
    assert missing_numbers(claim, evidence) == missing


@pytest.mark.parametrize(
    ("claim", "evidence", "allowed", "missing"),
    [
        pytest.param(
            "The article says Tajiks work in Moscow",
            "Tajikistan's migrants in Russia",
            "",
            ["Moscow"],
            id="docstring",
        ),
        pytest.param("Putin and Biden met", "Putin met the press", "", ["Biden"], id="one-of-two-names"),
        pytest.param("Obama met Obama", "nobody", "", ["Obama"], id="reported-once"),
        pytest.param("Russians live here", "people in Russia", "", [], id="demonym-of-a-country"),
        pytest.param("Tajiks work", "Tajik workers", "", [], id="plural"),
        pytest.param("However, prices rose", "prices rose", "", [], id="common-opener"),
        pytest.param("According to the article, prices rose", "prices rose", "", [], id="attribution"),
        pytest.param("In March prices rose", "prices rose in march", "", [], id="case-insensitive"),
        pytest.param("Rahman's rule", "President Rahman has", "", [], id="possessive"),
        pytest.param("McDonald\u2019s grew", "McDonald's grew", "", [], id="curly-possessive"),
        pytest.param("The Guardian says prices rose", "prices rose", "The Guardian", [], id="allowed-title"),
        pytest.param("The Guardian says prices rose", "prices rose", "", ["Guardian"], id="title-not-allowed"),
        pytest.param("ISIS-K claimed it", "ISIS-K claimed", "", [], id="hyphenated-name"),
        pytest.param("The article says \u00c9mile left", "nobody", "", ["\u00c9mile"], id="accented-capital"),
        pytest.param(
            "It says \u0141ukasz and \u0414\u0443\u0448\u0430\u043d\u0431\u0435",
            "nobody",
            "",
            ["\u0141ukasz", "\u0414\u0443\u0448\u0430\u043d\u0431\u0435"],
            id="non-latin-capitals",
        ),
        pytest.param("The article says \u00c9mile left", "Emile left", "", [], id="accents-ignored"),
    ],
)
def test_missing_names(claim: str, evidence: str, allowed: str, missing: list[str]) -> None:
    assert missing_names(claim, evidence, allowed) == missing


@pytest.mark.parametrize(
    ("claim", "names", "missing"),
    [
        pytest.param("Putin warned of an exodus", {"putin"}, ["Putin"], id="a-name-elsewhere-in-the-passages"),
        pytest.param("Migrants returned", {"putin"}, [], id="an-opener-not-known-as-a-name"),
        pytest.param("\u00c9mile left", {"emile"}, ["\u00c9mile"], id="folded-like-the-names"),
    ],
)
def test_the_word_opening_a_claim_is_checked_when_the_passages_use_it_as_a_name(
    claim: str, names: set[str], missing: list[str]
) -> None:
    assert missing_names(claim, "Tasmagambetov warned that remittances fell", names=names) == missing


def test_names_in_leaves_out_sentence_openers() -> None:
    assert names_in("Putin spoke. Later, Tasmagambetov and the Kremlin replied. In \u00c9vian, we met.") == {
        "tasmagambetov", "kremlin", "evian",
    }  # fmt: skip


@pytest.mark.parametrize(
    "opener",
    ["Additionally", "Furthermore", "Reportedly", "Finally"],
)
def test_sentence_opening_adverbs_are_not_names(opener: str) -> None:
    # The answer prompt asks the model to keep hedges like "reportedly"; this is how it writes them.
    assert missing_names(f"{opener}, prices rose", "prices rose") == []


@pytest.mark.parametrize(
    ("claim", "evidence"),
    [
        pytest.param("4,100,000 people", "4.1 million people", id="float-rounding"),
        pytest.param("8.3 billion dollars", "8,300,000,000 dollars", id="billions"),
    ],
)
def test_equal_numbers_written_differently_match(claim: str, evidence: str) -> None:
    assert missing_numbers(claim, evidence) == []
