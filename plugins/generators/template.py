"""``template``: slot-filling insult templates, the cheap baseline an LLM generator has to beat.

A comment is a *frame* (opener, body, closer) around an *insult pattern* whose slots take a target,
an intensifier, an adjective and a noun, plus optional style noise (shouting, stretched punctuation,
a dropped letter). ``diversity`` sets how much of each word list is used (0.2 = the first fifth,
1 = all), ``noise`` how often the style noise applies. The wording was written for this project;
it stays with insults, profanity and hostility towards people in a discussion (no slurs, no threats).
Deterministic for a seed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import ClassVar

import numpy as np

from sparsebench import GeneratedBatch, GenerationRequest, Generator, Param, Register, hookimpl

from ._admit import Admission

PATTERNS = (
    "you are {a_intens_adj_noun}",
    "{target} {are} {intens_adj_nouns}",
    "shut up, you {adj} {noun}",
    "only {a_adj} {noun} would believe this garbage",
    "nobody cares what {target_obj} {think}, you {noun}",
    "how can {target} be this {adj}",
    "get lost, {adj} {noun}",
    "{target} should be ashamed. {nouns_cap} like {target_obj} ruin every thread",
    "what a {adj} take. {target} {are} {a_intens_noun}",
    "i have never seen {a_adj} {noun} write anything this dumb",
    "do us all a favour and log off, you {adj} {noun}",
    "{target} {are} the reason this site is full of {adj} {nouns}",
    "imagine being {a_intens_adj_noun} and still posting",
    "keep crying, {noun}. {target} {are} {a_intens_noun}",
    "{target_poss} brain must be {brain}",
    "stop embarrassing yourself, {adj} {noun}",
    "every word {target} {write} proves {target} {are} {a_intens_noun}",
    "typical {adj} {noun} logic",
    "{target} {are} {a_intens_noun} and everybody knows it",
    "congratulations, {target} just won the award for {a_intens_adj_noun}",
)
TARGETS = (
    ("you", "you", "your", "are", "think", "write"),
    ("you people", "you people", "your", "are", "think", "write"),
    ("the author", "the author", "the author's", "is", "thinks", "writes"),
    ("these clowns", "them", "their", "are", "think", "write"),
    ("the mods", "them", "their", "are", "think", "write"),
    ("this guy", "him", "his", "is", "thinks", "writes"),
    ("the OP", "the OP", "the OP's", "is", "thinks", "writes"),
    ("everyone defending him", "them", "their", "are", "think", "write"),
    ("the people who voted for this", "them", "their", "are", "think", "write"),
    ("this so-called journalist", "her", "her", "is", "thinks", "writes"),
    ("the fans of this team", "them", "their", "are", "think", "write"),
    ("that senator", "him", "his", "is", "thinks", "writes"),
)
INTENSIFIERS = ("", "complete", "absolute", "total", "fucking", "goddamn", "pathetic little", "certified", "utter", "", "damn")
ADJECTIVES = (
    "stupid", "pathetic", "brainless", "clueless", "worthless", "spineless", "ignorant", "delusional", "disgusting",
    "idiotic", "useless", "dishonest", "moronic", "braindead", "smug", "whiny", "gutless", "two-faced", "dense", "miserable",
)
NOUNS = (
    "idiot", "moron", "clown", "loser", "troll", "hypocrite", "fool", "coward", "liar", "imbecile", "dimwit",
    "halfwit", "crybaby", "dumbass", "jackass", "lowlife", "waste of space", "piece of trash", "grifter", "bootlicker",
)
BRAIN = ("the size of a pea", "running on one cell", "made of mush", "on permanent vacation", "completely empty")
OPENERS = ("", "", "lol ", "wow. ", "seriously? ", "@user ", "oh please, ", "LMAO ", "typical. ", "ugh, ", "wtf, ", "yeah right, ")
CLOSERS = ("", ".", "!", "!!", " lol", " smh", ". get a life.", ". pathetic.", ". nobody asked.", "?", "!!!", ". grow up.")


class TemplateGenerator(Generator):
    name: ClassVar[str] = "template"
    description: ClassVar[str] = "baseline: insult patterns x targets x intensifiers x frames, deterministic for a seed"
    chunk_size: ClassVar[int] = 64
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("diversity", "float", 1.0, "share of each word list in use (lower: fewer distinct comments)", low=0.05, high=1.0),
        Param("noise", "float", 0.15, "chance of style noise per comment (caps, stretched punctuation, a typo)", low=0.0, high=1.0),
        Param("max_attempts", "int", 50, "draws per requested text before giving up", low=1),
    )

    @classmethod
    def listing(cls) -> dict[str, str]:
        size = len(PATTERNS) * len(TARGETS) * len(INTENSIFIERS) * len(ADJECTIVES) * len(NOUNS)
        return {"patterns": str(len(PATTERNS)), "combinations (before frames)": f"about {size:,}", "example": PATTERNS[0]}

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        rng = np.random.default_rng([request.seed, 0x7E4])
        admission = Admission(request, self.config["max_attempts"])
        while admission.wants_more():
            admission.attempts += 1
            admission.offer(self.compose(rng))
        yield admission.batch()

    def compose(self, rng: np.random.Generator) -> str:
        """One comment from the templates."""
        subject, obj, poss, be, think, write = TARGETS[_index(rng, len(TARGETS), self.config["diversity"])]
        adj, noun, intens = self._word(rng, ADJECTIVES), self._word(rng, NOUNS), self._word(rng, INTENSIFIERS)
        body = PATTERNS[_index(rng, len(PATTERNS), 1.0)].format(
            target=subject, target_obj=obj, target_poss=poss, are=be, think=think, write=write, adj=adj, noun=noun,
            nouns=_plural(noun), nouns_cap=_plural(noun).capitalize(), a_adj=_article(adj), brain=self._word(rng, BRAIN),
            a_intens_adj_noun=_article(_join(intens, adj, noun)), a_intens_noun=_article(_join(intens, noun)),
            intens_adj_nouns=_join(intens, adj, _plural(noun)),
        )
        text = f"{self._word(rng, OPENERS)}{_capitalise(body)}{self._word(rng, CLOSERS)}"
        return _noise(text, rng) if rng.random() < self.config["noise"] else text

    def _word(self, rng: np.random.Generator, words: Sequence[str]) -> str:
        return words[_index(rng, len(words), self.config["diversity"])]


def _index(rng: np.random.Generator, size: int, diversity: float) -> int:
    """A random index into the first ``diversity`` share of a list of ``size`` options."""
    return int(rng.integers(max(1, math.ceil(size * diversity))))


def _plural(noun: str) -> str:
    head, _, rest = noun.partition(" ")
    head = head[:-1] + "ies" if head.endswith("y") and head[-2] not in "aeiou" else head + ("es" if head.endswith("s") else "s")
    return f"{head} {rest}".strip()


def _article(phrase: str) -> str:
    return f"{'an' if phrase[0] in 'aeiou' else 'a'} {phrase}"


def _join(*words: str) -> str:
    return " ".join(word for word in words if word)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _noise(text: str, rng: np.random.Generator) -> str:
    """One kind of style noise: shouting, stretched punctuation or a dropped letter."""
    kind = int(rng.integers(3))
    if kind == 0:
        return text.upper()
    if kind == 1:
        return text.rstrip(".!?") + "!" * int(rng.integers(2, 5))
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    cut = letters[int(rng.integers(len(letters)))] if letters else 0
    return text[:cut] + text[cut + 1 :]


@hookimpl
def register_generators(register: Register) -> None:
    register(TemplateGenerator)
