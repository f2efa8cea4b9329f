"""Turning raw language-model output into clean, new comments, and saying why the rest was dropped.

A completion is split into *segments*: list items (``1.``, ``2)``, ``#3:``, ``-``, ``*``), quoted lines,
or plain lines. Every segment is a raw output; it is accepted only if it survives, in order:

1. ``empty``: nothing left after stripping list markers, quotes, labels and markdown;
2. ``cut off``: the last segment of a completion that ran out of new tokens;
3. ``refusal``: "I cannot…", "As an AI…", apologies;
4. ``echo of the prompt``: most of its word trigrams appear in the prompt (the definition, the
   policy, the few-shot examples);
5. ``explanation``: commentary about the comments ("Here are…", "This comment is toxic because…",
   headers ending in ``:``);
6. ``too short``: fewer than ``min_words`` words or ``min_chars`` characters;
7. ``duplicate``: the same text (case and punctuation ignored) was accepted before in this sequence;
8. ``matches a real row``: ``request.is_known`` says a real row of any split has this text;
9. ``near duplicate``: word-bigram Jaccard similarity to an accepted text or a real training
   positive at or above the threshold.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sparsebench import Param, dedup_key

#: how strictly generated texts are cleaned (see :class:`Cleaner`)
CLEANING = ("strict", "relaxed")


def cleaning_params(rounds: str) -> tuple[Param, ...]:
    """The cleaning parameters every prompting generator shares (``llm``, ``openai``); ``rounds`` names its unit of work."""
    return (
        Param("cleaning", "str", "strict", "strict: all checks; relaxed: whole completions, duplicate checks only", choices=CLEANING),
        Param("min_words", "int", 3, "shortest accepted comment in words", low=1),
        Param("near_duplicate", "float", 0.6, "word-bigram Jaccard similarity that counts as a near duplicate", low=0.05, high=1.0),
        Param("patience", "int", 5, f"give up after this many {rounds} in a row with nothing accepted", low=1),
    )

EMPTY = "empty"
CUT_OFF = "cut off"
REFUSAL = "refusal"
ECHO = "echo of the prompt"
EXPLANATION = "explanation"
TOO_SHORT = "too short"
DUPLICATE = "duplicate"
KNOWN = "matches a real row"
NEAR_DUPLICATE = "near duplicate"
NO_OUTPUT = "no output"

_MARKER = re.compile(r"^\s*(?:\(?\d{1,3}\s*[.):\]]|#\s*\d{1,3}\s*[.):]?|[-*•·]|comment\s*#?\s*\d{0,3}\s*[:.)-])\s*", re.IGNORECASE)
_LABEL = re.compile(
    r"^\s*(?:[\w'-]+\s+){0,3}(?:comment|example|reply|response|post|tweet|answer|output|user|article|thread|message)s?"
    r"\s*#?\s*\d{0,3}\s*:\s*",
    re.IGNORECASE,
)
_OPEN_QUOTES = "\"'“‘«„`"
_CLOSE_QUOTES = "\"'”’»“`"
_MARKDOWN = re.compile(r"\*\*|__|~~|^#+\s+")
_WORD = re.compile(r"[\w@#']+")

_REFUSAL = re.compile(
    r"^(?:i'?m sorry|i am sorry|sorry,? but|i apologi[sz]e|i cannot|i can'?t|i can not|i won'?t|i will not|"
    r"i'?m (?:not able|unable)|i am (?:not able|unable)|as an ai|as a (?:responsible|helpful|language)|"
    r"i do not (?:feel comfortable|condone)|i don'?t (?:feel comfortable|condone)|unfortunately,? i)"
    r"|\bas an ai\b|\blanguage model\b|\bi (?:cannot|can'?t|won'?t) (?:write|generate|create|produce|provide|help)"
    r"|\bagainst (?:my|our) (?:guidelines|policy|policies|programming)\b|\bnot appropriate\b|\brespectful and inclusive\b",
    re.IGNORECASE,
)
_EXPLANATION = re.compile(
    r"^(?:here (?:are|is)|here'?s|sure\b|certainly\b|of course\b|okay\b|ok,|note\b|please note|explanation|"
    r"disclaimer|remember\b|these (?:are|comments|examples)|this (?:comment|example|one) (?:is|uses|shows|contains|was)|"
    r"the (?:above|following|comments?|examples?)\b|in this (?:comment|example)|i hope|hope this|let me know|"
    r"(?:toxic|example|new|more) comments?:|warning\b|why (?:it|this) is|(?:title|subject|category|topic|summary|headline)\s*:|"
    r"the (?:first|second|third|last|next) one\b)"
    r"|\btoxic comments?\b|\bhate speech\b|\bcontent moderation\b|\bclassifier\b|\bis (?:toxic|hateful|offensive) because\b"
    r"|\bthis (?:comment|statement|sentence) (?:is|uses|promotes|contains)\b|\bthe (?:user|commenter) (?:is|uses)\b"
    r"|\bthe sentence\b|\b(?:hateful|offensive|toxic) (?:message|remarks?|language)\b|\bintended to (?:insult|offend)\b",
    re.IGNORECASE,
)


_META_WORDS = frozenset(
    "toxic toxicity hateful hate hatred insult insults insulting rude rudeness offensive remark remarks comment comments "
    "name-calling profanity derogatory abuse abusive language harassment speech slur slurs content moderation".split()
)


def meta_share(text: str) -> float:
    """The share of a text's words that talk about toxicity instead of being toxic ("Abuse and insults")."""
    tokens = [w for w in words(text) if len(w) > 3]
    return sum(w in _META_WORDS for w in tokens) / len(tokens) if tokens else 0.0


@dataclass
class Segment:
    """One candidate comment taken from a completion; ``cut`` marks text that ran out of tokens."""

    text: str
    cut: bool = False


@dataclass
class CleaningReport:
    """What cleaning one batch of completions produced."""

    accepted: list[str] = field(default_factory=list)
    raw: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    rejected_texts: list[tuple[str, str]] = field(default_factory=list)  # for people to read; the runner keeps a few per reason


def split_completion(completion: str, finished: bool = True) -> list[Segment]:
    """The candidate comments of one completion, in order.

    ``finished=False`` means the completion stopped at the token limit: its last segment is cut off
    unless the completion ended with a line break.
    """
    lines = _join_open_quotes([line.strip() for line in completion.replace("\r", "\n").split("\n")])
    segments = [Segment(_strip_decoration(line)) for line in lines if line.strip()]
    if segments and not finished and not completion.rstrip(" \t").endswith("\n"):
        segments[-1].cut = True
    return segments


def _join_open_quotes(lines: list[str]) -> list[str]:
    """Join lines while a quoted comment that opened on an earlier line has not closed yet."""
    joined: list[str] = []
    buffer = ""
    for line in lines:
        if buffer:
            if not line:
                joined.append(buffer)
                buffer = ""
                continue
            buffer = f"{buffer} {line}"
            if _quote_balance(buffer) == 0:
                joined.append(buffer)
                buffer = ""
            continue
        if _quote_balance(line) > 0:
            buffer = line
        else:
            joined.append(line)
    if buffer:
        joined.append(buffer)
    return joined


def _quote_balance(line: str) -> int:
    """1 when the line (after its list marker) opens a double quote it does not close, else 0."""
    body = _MARKER.sub("", line, count=1).lstrip()
    if not body or body[0] not in "\"“":
        return 0
    closing = body.count("\"") + body.count("”") if body[0] == "\"" else body.count("”")
    needed = 2 if body[0] == "\"" else 1
    return 0 if closing >= needed else 1


def _strip_decoration(line: str) -> str:
    """Remove list markers, labels, markdown and one pair of surrounding quotes."""
    text = _MARKDOWN.sub("", line).strip()
    for _ in range(2):
        text = _MARKER.sub("", text, count=1)
        text = _LABEL.sub("", text, count=1).strip()
    return _unquote(text.rstrip(",;")).strip()


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] in _OPEN_QUOTES and text[-1] in _CLOSE_QUOTES:
        return text[1:-1].strip()
    if len(text) >= 2 and text[0] in _OPEN_QUOTES and text.count(text[0]) == 1 and text[0] in "\"“":
        return text[1:].strip()  # an opening quote whose closing one was lost
    if text and text[-1] in "\"”" and text.count(text[-1]) == 1 and text.count("“") == 0:
        return text[:-1].strip()
    return text


def words(text: str) -> list[str]:
    """Lower-case word tokens, as used for length limits and similarity."""
    return _WORD.findall(text.lower())


def shingles(text: str, size: int = 2) -> frozenset[tuple[str, ...]]:
    """Word n-grams of a text (single words for texts shorter than ``size``)."""
    tokens = dedup_key(text).split()
    if len(tokens) < size:
        return frozenset((token,) for token in tokens)
    return frozenset(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))


class NearDuplicates:
    """An index of texts for word-bigram Jaccard similarity, with an inverted index for speed."""

    def __init__(self, threshold: float = 0.6) -> None:
        self.threshold = threshold
        self._sets: list[frozenset[tuple[str, ...]]] = []
        self._index: dict[tuple[str, ...], list[int]] = defaultdict(list)

    def __len__(self) -> int:
        return len(self._sets)

    def add(self, text: str) -> None:
        grams = shingles(text)
        ident = len(self._sets)
        self._sets.append(grams)
        for gram in grams:
            self._index[gram].append(ident)

    def similarity(self, text: str) -> float:
        """The highest Jaccard similarity between ``text`` and any indexed text (0 when none shares a bigram)."""
        grams = shingles(text)
        shared: Counter[int] = Counter()
        for gram in grams:
            shared.update(self._index.get(gram, ()))
        best = 0.0
        for ident, common in shared.items():
            union = len(grams) + len(self._sets[ident]) - common
            best = max(best, common / union if union else 0.0)
        return best

    def matches(self, text: str) -> bool:
        return self.threshold <= 1 and self.similarity(text) >= self.threshold


def echo_share(text: str, prompt_trigrams: frozenset[tuple[str, ...]]) -> float:
    """The share of a text's word trigrams that also occur in the prompt."""
    grams = shingles(text, size=3)
    if not grams or not prompt_trigrams:
        return 0.0
    return sum(1 for gram in grams if gram in prompt_trigrams) / len(grams)


@dataclass
class Cleaner:
    """Accepts new, clean comments for one generation request and counts the rest by reason.

    ``is_known`` is the request's check against real rows (and texts accepted in earlier chunks);
    ``reference`` texts (the real training positives) seed the near-duplicate index.
    ``strict=False`` keeps only the checks that need no language (empty, duplicates): for measuring
    raw throughput with a model whose output is not text, such as random weights.
    """

    is_known: Callable[[str], bool] = lambda text: False
    min_words: int = 3
    min_chars: int = 12
    near_threshold: float = 0.6
    echo_threshold: float = 0.5
    strict: bool = True
    reference: Iterable[str] = ()

    def __post_init__(self) -> None:
        self.near = NearDuplicates(self.near_threshold)
        for text in self.reference:
            self.near.add(text)
        self.accepted_keys: set[str] = set()

    def clean(self, completions: Iterable[tuple[str, bool, str]]) -> CleaningReport:
        """Clean ``(completion, finished, prompt)`` triples; accepted texts are remembered for later calls."""
        report = CleaningReport()
        for completion, finished, prompt in completions:
            segments = split_completion(completion, finished) if self.strict else _whole(completion, finished)
            if not segments:
                report.raw += 1
                report.rejected[NO_OUTPUT] += 1
                continue
            prompt_trigrams = shingles(prompt, size=3) if self.strict else frozenset()
            for segment in segments:
                report.raw += 1
                reason = self.reason(segment, prompt_trigrams)
                if reason:
                    report.rejected[reason] += 1
                    report.rejected_texts.append((reason, segment.text))
                else:
                    self._accept(segment.text, report)
        return report

    def reason(self, segment: Segment, prompt_trigrams: frozenset[tuple[str, ...]] = frozenset()) -> str | None:
        """Why a segment is rejected, or None when it is accepted."""
        text = segment.text
        key = dedup_key(text)
        if not key:
            return EMPTY
        if self.strict:
            quality = self._quality(segment, prompt_trigrams)
            if quality:
                return quality
        if key in self.accepted_keys:
            return DUPLICATE
        if self.is_known(text):
            return KNOWN
        if self.strict and self.near.matches(text):
            return NEAR_DUPLICATE
        return None

    def _quality(self, segment: Segment, prompt_trigrams: frozenset[tuple[str, ...]]) -> str | None:
        text = segment.text
        if segment.cut:
            return CUT_OFF
        if _REFUSAL.search(text):
            return REFUSAL
        if echo_share(text, prompt_trigrams) >= self.echo_threshold:
            return ECHO
        if _EXPLANATION.search(text) or text.endswith(":") or meta_share(text) >= 0.5:
            return EXPLANATION
        if len(words(text)) < self.min_words or len(text) < self.min_chars:
            return TOO_SHORT
        return None

    def _accept(self, text: str, report: CleaningReport) -> None:
        report.accepted.append(text)
        self.accepted_keys.add(dedup_key(text))
        self.near.add(text)


def _whole(completion: str, finished: bool) -> list[Segment]:
    """The relaxed reading: the whole completion is one candidate."""
    text = " ".join(completion.split())
    return [Segment(text)] if text else []
