"""Deterministic support checks: the numbers and names a claim states must appear in its evidence."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Set as AbstractSet

_SCALES = {
    "dozen": 12,
    "hundred": 1e2,
    "thousand": 1e3,
    "million": 1e6,
    "mln": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "trillion": 1e12,
}
_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_TENS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
_UNITS = "one|two|three|four|five|six|seven|eight|nine"
_SPACE = "[ \u00a0\u202f\u2009]"  # a space between digit groups: plain, no-break, narrow no-break or thin
_DIGITS = (
    r"\d{1,3}(?:,\d{3})+(?:\.\d+)?"  # 1,500 and 147,182,123.5
    r"|\d{1,3}(?:(?:\.\d{3}){2,}(?:,\d+)?|(?:\.\d{3})+,\d+)"  # 2.345.678, 12.345,67 (2.345 is a decimal)
    rf"|\d{{1,3}}(?:{_SPACE}\d{{3}})+(?:[.,]\d+)?(?!\d)"  # 2 345 678
    r"|\d+,\d{1,2}(?!\d)"  # 10,5: a decimal comma
    r"|\d+(?:\.\d+)?"
)
_NUMBER = re.compile(
    rf"(?<![\w.])({_DIGITS}|(?:{_TENS})[- ](?:{_UNITS})\b|an?(?=\s+(?:{'|'.join(_SCALES)})\b)|"
    + "|".join(rf"{word}\b" for word in _WORDS)
    + r")"
    r"(?:\s*(" + "|".join(_SCALES) + r")\b)?",
    re.IGNORECASE,
)
# Capitalised words that open sentences or attribute, and so name nothing a source must contain.
_COMMON = frozenset(
    """a about according additionally after again against all also although among an and another any are
    article articles as at author authors be because before besides both but by can claim claims
    currently despite do document documents does during each earlier either even every few finally first for
    from furthermore given he hence however i if in including instead it its later likewise many
    meanwhile more moreover most much neither no none nor not note of on one only or
    other others our overall passage passages report reportedly reports second several she similarly since so some
    source sources still such text than that the their then there therefore these they third this
    those though thus to today under unlike until we what when where whereas which while who
    whose with within without writer yes yet you""".split()  # noqa: SIM905 - a word list reads better as words
)
_WORD = re.compile(r"\b[^\W\d_][\w'’-]*")  # a name is such a word with a capital: É, Ł and Д included
_MID_SENTENCE = re.compile(r"(?<=[\w,] )[^\W\d_][\w'’-]*")


def numbers_in(text: str) -> set[float]:
    """Every number `text` states, as a value: "1,500", "1.5 thousand" and "fifteen hundred" agree.
    A number written two ways is both ("10,5" is 10.5, or 10 and 5 in a list).

    >>> sorted(numbers_in("About 1.5 million people, 30% of them in 2023, twenty-five of them"))
    [25.0, 30.0, 2023.0, 1500000.0]
    """
    return {value for match in _NUMBER.finditer(text) for reading in _readings(match) for value in reading}


def _readings(match: re.Match[str]) -> list[tuple[float, ...]]:
    """The ways a matched number can be read, each as the values it states; the usual reading first.

    Digits grouped by spaces ("2 345 678") or with a decimal comma ("10,5") may also be numbers side
    by side ("May 19 345 people", "items 1,2 and 3"); the grouping with a comma and three digits is
    always English thousands ("1,500"), the European decimal ("1,500" for 1.5) is not read."""
    number, scale = match.group(1).lower(), match.group(2)
    factor = _SCALES[scale.lower()] if scale else 1
    if re.fullmatch(rf"\d+,\d{{1,2}}|\d{{1,3}}(?:{_SPACE}\d{{3}})+(?:[.,]\d+)?", number):
        whole = re.sub(_SPACE, "", number).replace(",", ".")
        parts = [float(part) for part in re.split(rf"{_SPACE}|,", number)]
        return [(float(whole) * factor,), (*parts[:-1], parts[-1] * factor)]
    return [(_value(number) * factor,)]


def _value(number: str) -> float:
    if number in _WORDS:
        return float(_WORDS[number])
    if number in ("a", "an"):  # "a dozen", "a million"
        return 1.0
    if number[0].isalpha():  # twenty-five
        return float(sum(_WORDS[part] for part in re.split(r"[- ]", number)))
    if re.fullmatch(r"\d{1,3}(?:(?:\.\d{3}){2,}(?:,\d+)?|(?:\.\d{3})+,\d+)", number):  # 2.345.678,5
        return float(number.replace(".", "").replace(",", "."))
    return float(number.replace(",", ""))


def missing_numbers(claim: str, evidence: str) -> list[str]:
    """Numbers in the claim that no evidence passage states (in any of the ways it can be read).

    >>> missing_numbers("It has 12 million people", "a city of 12,000,000")
    []
    """
    found = numbers_in(evidence)
    missing = []
    for match in _NUMBER.finditer(claim):
        stated = any(
            all(any(math.isclose(value, other, rel_tol=1e-9) for other in found) for value in reading)
            for reading in _readings(match)
        )
        if not stated and not _is_small_word(match.group(0)):
            missing.append(match.group(0).strip())
    return missing


def _is_small_word(number: str) -> bool:
    """ "one" is as often a pronoun as a quantity ("one of the reasons"); don't require it."""
    return number.strip().lower() in ("one", "zero")


def names_in(text: str) -> set[str]:
    """The capitalised words of `text` that follow a word or a comma: names, not sentence openers.

    >>> sorted(names_in("Putin spoke. Later, Tasmagambetov and the Kremlin replied."))
    ['kremlin', 'tasmagambetov']
    """
    return {_fold(word) for word in _MID_SENTENCE.findall(text) if word[0].isupper()}


def missing_names(claim: str, evidence: str, allowed: str = "", names: AbstractSet[str] = frozenset()) -> list[str]:
    """Capitalised words (names, places, months) of the claim found neither in the evidence nor in
    `allowed` (document titles). A name matches a longer form ("Tajik" in "Tajikistan"). The word
    that opens the claim counts only when `names` (from `names_in`) shows it is one.

    >>> missing_names("The article says Tajiks work in Moscow", "Tajikistan's migrants in Russia")
    ['Moscow']
    >>> missing_names("Putin said so.", "Tasmagambetov said so.", names={"putin"})
    ['Putin']
    """
    known = _fold(f"{evidence} {allowed}")
    missing = []
    capitalised = [word for word in _WORD.findall(claim) if word[0].isupper()]
    for position, word in enumerate(capitalised):
        bare = re.sub(r"['’]s$", "", word).strip("'’-")
        lower = _fold(bare)
        if not bare or lower in _COMMON or _known_name(lower, known):
            continue
        if position == 0 and claim.lstrip(" \"'“‘(").startswith(word) and lower not in names:
            continue  # "Around", "Reportedly": any sentence opens with a capital; the judge still reads it
        if bare not in missing:
            missing.append(bare)
    return missing


def _fold(text: str) -> str:
    """Lower case without accents: "Émile" and "Emile" are one name, as a source may spell it either way."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("’", "'"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _known_name(name: str, known: str) -> bool:
    """The name at the start of a word of `known`, or the name less a demonym ending (Russian, Tajiks)."""
    if re.search(rf"\b{re.escape(name)}", known):
        return True
    for ending in ("ans", "an", "ns", "n", "es", "s", "ese", "is", "i"):
        stem = name.removesuffix(ending)
        if stem != name and len(stem) >= 4 and re.search(rf"\b{re.escape(stem)}", known):
            return True
    return False
