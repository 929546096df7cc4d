"""Cite: split a draft answer into claims, map its source keys to passages, find quotes verbatim."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import blingfire

from assistant.records import Claim

# [S1], [S1, S3], [S1][S2], [s2; S4], [Source 3], [1], [S1-S3], (S2): the forms small models write.
_KEY = r"(?:S\d{1,6}\s*[-–]\s*S?\d{1,6}|(?:S|Source\s*)?\d{1,6})"  # a range needs its S: "[2019-2020]" is text
_KEYS = rf"{_KEY}(?:\s*[,;&]\s*{_KEY})*"
_NAMED_KEYS = r"S\d{1,6}(?:\s*[,;&]\s*S\d{1,6})*"  # in parentheses only with the S: "(1)" is often a list item
MARKER = re.compile(rf"\[\s*{_KEYS}\s*\]|\(\s*{_NAMED_KEYS}\s*\)", re.IGNORECASE)
MAX_RANGE = 20  # "[S1-S3]" is three keys; "[S1-S900]" is not 900
_SOURCES_LABEL = re.compile(r"(?:sources?|references?|citations?)\s*:?", re.IGNORECASE)  # "Sources: [S1], [S2]"
_MARKER_AFTER_STOP = re.compile(rf"([.!?])((?:\s*(?:{MARKER.pattern}))+)", re.IGNORECASE)
_LEADING_MARKERS = re.compile(rf"^\s*(?:(?:{MARKER.pattern})\s*)+", re.IGNORECASE)
_KEY_DIGITS = re.compile(r"\d+")
_ABBREVIATION = re.compile(  # "... Dr." "St." "U.S." "Cruz v.", not "... in May." or "... to Iran."
    r"^(?:.*\s)?(?:(?:Dr|Mr|Mrs|Ms|Prof|St|Mt|Jr|Sr|Gen|Col|Lt|Sgt|Capt|Rev|Gov|Sen|Rep|Pres|Fig|No|Nos|Vol|Jan|Feb"
    r"|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Inc|Ltd|Co|Corp|approx|ca|cf|vs|v|e\.g|i\.e|et al|pp?|Sec|Art|Ch)"
    r"|[A-Z](?:\.[A-Z])*)\.$"
)
QUOTATION_RUN = 600  # most characters one sentence may grow to while a quotation is open
_QUOTE_MARK = re.compile(r'(?<!\d)"')
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = (".", "!", "?", ":", ";", '"', "'", ")", "”", "’")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+", re.MULTILINE)
_QUOTE_MARKS = str.maketrans({"“": '"', "”": '"', "„": '"', "‟": '"', "‘": "'", "’": "'", "‚": "'", "‛": "'", "`": "'"})
# For matching only: every quote mark is one mark, so an inner "..." quoted as '...' still matches.
_MATCH_MARKS = str.maketrans({mark: "'" for mark in '"“”„‟‘’‚‛`«»'})
_SPACE = re.compile(r"\s+")
ELLIPSIS_GAP = 300  # most characters an ellipsis in a quotation may stand for
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…|\[\.\.\.\])\s*")
_QUOTED = re.compile(r'"([^"]{12,}?)"')  # after quote-mark normalisation; short scare quotes are not quotations


def split_claims(draft: str, known_keys: set[str]) -> list[Claim]:
    """Sentences of `draft`, each with the source keys it cites; unknown keys are stripped and kept.

    >>> [(c.text, c.keys) for c in split_claims("Ice melts [S1]. Snow falls.[S2][S9]", {"S1", "S2"})]
    [('Ice melts.', ['S1']), ('Snow falls.', ['S2'])]
    """
    text = _BULLET.sub("", draft.strip()).translate(_QUOTE_MARKS)  # blingfire splits “...” less reliably
    # "It rains. [S1]" cites S1 for the sentence before the marker, not the one after it.
    text = _MARKER_AFTER_STOP.sub(lambda m: f" {m.group(2).strip()}{m.group(1)}", text)
    claims: list[Claim] = []
    for sentence in _sentences(text):
        if claims and (leading := _LEADING_MARKERS.match(sentence)):
            # '"... end of a quotation." [S1] Next sentence': the marker closes the sentence before
            _add_keys(claims[-1], _keys(leading.group(0)), known_keys)
            sentence = sentence[leading.end() :]
        keys = _keys(sentence)
        words = _tidy(MARKER.sub("", sentence))
        if not words.strip(" .,;:!?\"'") or _SOURCES_LABEL.fullmatch(words.strip(" .,;!?\"'")):
            if claims and keys:  # a line of bare markers belongs to the sentence before it
                _add_keys(claims[-1], keys, known_keys)
            continue
        claim = Claim(text=words)
        _add_keys(claim, keys, known_keys)
        claims.append(claim)
    return claims


def _sentences(text: str) -> list[str]:
    pieces: list[str] = []
    for line in text.splitlines():
        if line.strip():
            split = [s for s in blingfire.text_to_sentences(line.strip()).split("\n") if s.strip()]
            pieces.extend(_rejoin_quotations(split))
    return _rejoin_abbreviations(pieces)


def _rejoin_quotations(pieces: list[str]) -> list[str]:
    """blingfire ends a sentence inside or just after a quotation ('They shouted "Go home!" at
    rallies'): while a piece leaves a quotation open, or when it closes one and the next piece goes
    on in lower case, they are one sentence (up to a limit, in case a mark is never closed)."""
    joined: list[str] = []
    for piece in pieces:
        continues = joined and (_open_quotation(joined[-1]) or _goes_on_after_quotation(joined[-1], piece))
        if continues and len(joined[-1]) + len(piece) < QUOTATION_RUN:
            joined[-1] = f"{joined[-1]} {piece}"
        else:
            joined.append(piece)
    return joined


def _open_quotation(text: str) -> bool:
    """An odd number of quote marks, leaving out inch marks (12")."""
    return len(_QUOTE_MARK.findall(text)) % 2 == 1


def _goes_on_after_quotation(before: str, after: str) -> bool:
    return before.rstrip().endswith(('"', "'")) and after[:1].islower()


def _rejoin_abbreviations(pieces: list[str]) -> list[str]:
    """blingfire ends a sentence after "Dr." or "St." at times; such a stub belongs to what follows."""
    joined: list[str] = []
    for piece in pieces:
        if joined and _ABBREVIATION.match(joined[-1]):
            joined[-1] = f"{joined[-1]} {piece}"
        else:
            joined.append(piece)
    return joined


def _keys(sentence: str) -> list[str]:
    """The keys its markers cite, in order; a range ("S1-S3") stands for each key in it."""
    numbers: list[int] = []
    for marker in MARKER.findall(sentence):
        for part in re.split(r"[,;&]", marker):
            ends = [int(d) for d in _KEY_DIGITS.findall(part)]
            if len(ends) == 2 and ends[0] < ends[1] <= ends[0] + MAX_RANGE:
                numbers.extend(range(ends[0], ends[1] + 1))
            else:
                numbers.extend(ends)
    return [f"S{n}" for n in dict.fromkeys(numbers)]


def _add_keys(claim: Claim, keys: list[str], known_keys: set[str]) -> None:
    for key in keys:
        target = claim.keys if key in known_keys else claim.unknown_keys
        if key not in target:
            target.append(key)


def _tidy(sentence: str) -> str:
    """Markers gone, spaces closed up before punctuation."""
    return re.sub(r"\s+([.,;:!?])", r"\1", _SPACE.sub(" ", sentence)).strip()


@dataclass(frozen=True, slots=True)
class Normalised:
    """Text with whitespace runs collapsed and quote marks made straight; `origin[i]` maps back."""

    text: str
    origin: tuple[int, ...]

    @classmethod
    def of(cls, raw: str) -> Normalised:
        chars: list[str] = []
        origin: list[int] = []
        for index, char in enumerate(raw.translate(_MATCH_MARKS)):
            if char.isspace():
                if not chars or chars[-1] == " ":
                    continue
                char = " "
            chars.append(char)
            origin.append(index)
        return cls("".join(chars), tuple(origin))

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The raw-text span of normalised characters [start, end)."""
        return self.origin[start], self.origin[end - 1] + 1


def normalise(text: str) -> str:
    return Normalised.of(text).text.strip()


def find_quote(quote: str, document: str, within: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """Where `quote` stands verbatim in `document` (whitespace and quote marks normalised), or None.

    An ellipsis in the quote may skip up to ELLIPSIS_GAP characters; the parts must appear in order. `within` prefers a
    match inside that raw span (the cited passage) when the quote occurs more than once.

    >>> find_quote("the  “cold” sea", 'Out on the "cold"\\nsea we sailed.')
    (7, 21)
    """
    parts = [normalise(part) for part in _ELLIPSIS.split(quote)]
    parts = [part for part in parts if part]
    if not parts:
        return None
    doc = Normalised.of(document)
    starts = _occurrences(doc.text, parts[0])
    if within is not None:
        starts.sort(key=lambda s: not (within[0] <= doc.origin[s] < within[1]))
    for first in starts:
        end = _match_rest(doc.text, parts, first)
        if end is not None:
            return doc.span(first, end)
    return None


def _occurrences(haystack: str, needle: str) -> list[int]:
    found, at = [], haystack.find(needle)
    while at != -1:
        found.append(at)
        at = haystack.find(needle, at + 1)
    return found


def _match_rest(text: str, parts: list[str], first: int) -> int | None:
    end = first + len(parts[0])
    for part in parts[1:]:
        at = text.find(part, end, end + ELLIPSIS_GAP + len(part))
        if at == -1:  # an ellipsis leaves out words of one passage, not pages
            return None
        end = at + len(part)
    return end


def quoted_spans(sentence: str) -> list[str]:
    """The quotations a sentence makes ("..." of at least a few words)."""
    return [span.strip() for span in _QUOTED.findall(sentence.translate(_QUOTE_MARKS)) if " " in span.strip()]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of `text` (a passage). A heading or paragraph that ends a
    line is a sentence of its own; a line wrapped mid-sentence (as in PDFs) is not, nor is a cut
    after an abbreviation ("Helix Energy Solutions v. Hewitt").

    >>> sentence_spans("Migration\\nSome 3 million work abroad. Most in Russia.")
    [(0, 9), (10, 37), (38, 53)]
    """
    spans = []
    for block_start, block_end in _blocks(text):
        block = text[block_start:block_end]
        if not block.strip():
            continue
        _, offsets = blingfire.text_to_sentences_and_offsets(block)
        first = len(spans)
        for a, b in offsets:
            piece = block[a:b]
            if not piece.strip():
                continue
            a += len(piece) - len(piece.lstrip())
            b -= len(piece) - len(piece.rstrip())
            before = text[spans[-1][0] : spans[-1][1]] if len(spans) > first else None
            if before is not None and (_goes_on_after_quotation(before, block[a:b]) or _ABBREVIATION.match(before)):
                spans[-1] = (spans[-1][0], block_start + b)
            else:
                spans.append((block_start + a, block_start + b))
    return spans


def _blocks(text: str) -> list[tuple[int, int]]:
    """Split at blank lines, and at line ends that close a sentence or a heading-like short line."""
    cuts = [0]
    for match in re.finditer(r"\n", text):
        before = text[cuts[-1] : match.start()].rstrip()
        line = before.rsplit("\n", 1)[-1].strip()
        after = text[match.end() :].lstrip(" \t")
        starts_anew = bool(after) and (after[0].isupper() or after[0].isdigit() or after[0] in "\n\"“'‘([-*•")
        if _PARAGRAPH_BREAK.match(text, match.start()) or (
            starts_anew and (line.endswith(_SENTENCE_END) or (0 < len(line) < 100 and not line.endswith((",", "-"))))
        ):
            cuts.append(match.end())
    cuts.append(len(text))
    return list(itertools.pairwise(cuts))


def shortened(text: str, limit: int) -> str:
    """Whitespace collapsed, and cut at a word boundary with " ..." when over `limit` characters.

    >>> shortened("one  two three four", 12)
    'one two ...'
    """
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."
