"""Parsing and cleaning of language-model output, and the prompt plans the llm generator follows.

The completions below are the kinds of output the study had to clean by hand (and SmolLM2 writes):
numbered and quoted lists, preambles, explanations, refusals, echoes of the definition.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sparsebench.contracts.errors import SpecError, UsageError
from sparsebench.contracts.fingerprints import dedup_key
from sparsebench.plugins.generators import _prompts
from sparsebench.plugins.generators._cleaning import (
    CUT_OFF,
    DUPLICATE,
    ECHO,
    EMPTY,
    EXPLANATION,
    KNOWN,
    NEAR_DUPLICATE,
    NO_OUTPUT,
    REFUSAL,
    TOO_SHORT,
    Cleaner,
    NearDuplicates,
    split_completion,
)
from sparsebench.plugins.generators._decode import completed_lines

DEFINITION = (
    "A toxic comment is a rude, disrespectful or hateful message that is likely to make someone leave a discussion. "
    "Toxic comments include insults, name-calling, profanity, mockery and identity-based attacks."
)
PROMPT = f"{DEFINITION}\nWrite 5 different toxic comments. Answer with a numbered list, one comment per line, and nothing else."

NUMBERED = """Here are 5 toxic comments:

1. "You're a brainless clown and everyone in this thread knows it."
2) Shut up already, nobody asked for your garbage opinion
#3: **"Typical moron logic, go back to your cave."**
4. Comment 4: wow you really are the dumbest person on this site
5. “Get lost, loser. Your article is trash.”

These comments are toxic because they insult the reader and use name-calling."""


def clean(completion: str, finished: bool = True, known: frozenset[str] = frozenset(), **kwargs: object):
    cleaner = Cleaner(is_known=lambda text: dedup_key(text) in known, **kwargs)  # type: ignore[arg-type]
    return cleaner, cleaner.clean([(completion, finished, PROMPT)])


def test_numbered_quoted_list_is_split_and_stripped() -> None:
    _, report = clean(NUMBERED)
    assert report.accepted == [
        "You're a brainless clown and everyone in this thread knows it.",
        "Shut up already, nobody asked for your garbage opinion",
        "Typical moron logic, go back to your cave.",
        "wow you really are the dumbest person on this site",
        "Get lost, loser. Your article is trash.",
    ]
    assert report.raw == 7  # the preamble and the explanation are raw outputs too
    assert report.rejected == {EXPLANATION: 2}


def test_preamble_and_explanations_are_rejected_as_explanations() -> None:
    text = "Sure! Here's a toxic comment:\nThis comment is offensive because it mocks the author.\nNote: these are examples only."
    _, report = clean(text)
    assert report.accepted == []
    assert report.rejected == {EXPLANATION: 3}


@pytest.mark.parametrize(
    "line",
    [
        "Abuse and derogatory language",
        "rude, insulting, hateful remarks under a news article",
        "Title: The Abolishing of the Rogue Black",
        'The first one: The sentence "you are a skank" does not imply a particular person.',
        "This is a hateful message and is intended to insult refugees.",
    ],
)
def test_talk_about_toxicity_is_an_explanation(line: str) -> None:
    _, report = clean(f"1. {line}")
    assert report.rejected == {EXPLANATION: 1}


def test_insults_that_use_meta_words_are_kept() -> None:
    _, report = clean("1. You are a hateful idiot and your comments suck")
    assert report.accepted == ["You are a hateful idiot and your comments suck"]


@pytest.mark.parametrize(
    "line",
    [
        "I'm sorry, but I cannot write hateful content.",
        "As an AI language model, I can't help with that.",
        "I cannot generate toxic comments because it goes against my guidelines.",
        "Sorry, but that is not appropriate.",
        "I won't write insults about people.",
    ],
)
def test_refusals_are_rejected(line: str) -> None:
    _, report = clean(f"1. {line}")
    assert report.rejected == {REFUSAL: 1}


def test_echo_of_the_definition_is_rejected() -> None:
    echo = "1. " + DEFINITION.split(". ")[0] + "."
    _, report = clean(echo + "\n2. Honestly you are the worst writer I have ever read, quit now")
    assert report.rejected == {ECHO: 1}
    assert report.accepted == ["Honestly you are the worst writer I have ever read, quit now"]


def test_empty_short_and_cut_off_segments() -> None:
    _, report = clean('1. ""\n2. idiot\n3. You absolute waste of oxygen, log off and never come back\n4. And another thing you', finished=False)
    assert report.rejected == {EMPTY: 1, TOO_SHORT: 1, CUT_OFF: 1}
    assert report.accepted == ["You absolute waste of oxygen, log off and never come back"]


def test_a_finished_completion_keeps_its_last_line() -> None:
    _, report = clean("1. You absolute waste of oxygen, log off", finished=True)
    assert report.accepted == ["You absolute waste of oxygen, log off"]


def test_no_output_counts_as_one_raw_rejection() -> None:
    _, report = clean("   \n\n")
    assert report.raw == 1 and report.rejected == {NO_OUTPUT: 1}


def test_multi_line_quoted_comment_is_joined() -> None:
    segments = split_completion('1. "People like you\nshould never be allowed near a keyboard."\n2. "next"')
    assert [s.text for s in segments] == ["People like you should never be allowed near a keyboard.", "next"]


def test_duplicates_within_the_set_and_against_real_rows() -> None:
    real = "You are a skank Graham. John McCain would be ashamed"
    known = frozenset({dedup_key(real)})
    completion = (
        "1. You're a spineless coward and your fans are worse\n"
        "2. you're a SPINELESS coward, and your fans are worse!\n"
        f"3. {real.upper()}\n"
    )
    cleaner, report = clean(completion, known=known)
    assert report.accepted == ["You're a spineless coward and your fans are worse"]
    assert report.rejected == {DUPLICATE: 1, KNOWN: 1}
    again = cleaner.clean([("1. You're a spineless coward and your fans are worse", True, PROMPT)])
    assert again.rejected == {DUPLICATE: 1}, "accepted texts are remembered across batches"


def test_near_duplicates_are_rejected_but_different_comments_kept() -> None:
    completion = (
        "1. The mods here are a bunch of clueless power tripping losers\n"
        "2. The mods here are a bunch of clueless power tripping losers lol\n"
        "3. Nobody reads your blog because it is boring and stupid\n"
    )
    _, report = clean(completion)
    assert report.rejected == {NEAR_DUPLICATE: 1}
    assert len(report.accepted) == 2


def test_near_duplicates_of_training_positives_are_rejected() -> None:
    positive = "Brian's a crook. And Trump is a bankrupt... enough said"
    cleaner = Cleaner(reference=[positive])
    report = cleaner.clean([("1. Brian's a crook and Trump is a bankrupt, enough said", True, "Write comments.")])
    assert report.rejected == {NEAR_DUPLICATE: 1}


def test_near_duplicate_index_similarity() -> None:
    index = NearDuplicates(threshold=0.6)
    index.add("you are a total clown and a liar")
    assert index.similarity("you are a total clown and a liar") == 1.0
    assert index.matches("you are a total clown and a liar!!")
    assert not index.matches("completely unrelated words about football tonight")
    assert NearDuplicates().similarity("anything") == 0.0


def test_relaxed_cleaning_takes_whole_completions() -> None:
    cleaner = Cleaner(strict=False)
    report = cleaner.clean([("qq zx\nwv", False, PROMPT), ("qq zx\nwv", False, PROMPT), ("", True, PROMPT)])
    assert report.accepted == ["qq zx wv"]
    assert report.rejected == {DUPLICATE: 1, NO_OUTPUT: 1}


def test_completed_lines_skip_headers_and_blank_lines() -> None:
    text = "Here are some:\n\n1. first one\n2. second one\n3. unfinished"
    ends = completed_lines(text)
    assert [text[: end].rsplit("\n", 1)[-1] for end in ends] == ["1. first one", "2. second one"]


# --- prompts ---------------------------------------------------------------------------------


POSITIVES = tuple(f"real training positive number {i}" for i in range(7))


def test_few_shot_rotation_uses_every_training_positive_before_repeating() -> None:
    plan = _prompts.PromptPlan(_prompts.get_set("default"), "few-shot", POSITIVES, per_prompt=5, shots=2, seed=3)
    prompts = plan.take(4)  # 8 examples from 7 positives
    shown = [example for prompt in prompts for example in prompt.examples]
    assert set(shown[:7]) == set(POSITIVES), "every positive is shown once before any is shown twice"
    assert all(example in POSITIVES for example in shown), "only the request's training positives are shown"
    assert all(f'"{example}"' in prompt.user for prompt in prompts for example in prompt.examples)


def test_few_shot_rotation_differs_by_seed_and_repeats_for_a_seed() -> None:
    def order(seed: int) -> list[str]:
        plan = _prompts.PromptPlan(_prompts.get_set("default"), "few-shot", POSITIVES, 5, 2, seed)
        return [e for p in plan.take(3) for e in p.examples]

    assert order(1) == order(1)
    assert order(1) != order(2)


def test_targeted_prompts_cycle_over_groups_and_mixed_cycles_strategies() -> None:
    prompt_set = _prompts.get_set("default")
    groups = [p.group for p in _prompts.PromptPlan(prompt_set, "targeted", (), 5, 2, 0).take(len(prompt_set.groups))]
    assert sorted(groups) == sorted(prompt_set.groups)
    assert all(p.group in p.user for p in _prompts.PromptPlan(prompt_set, "targeted", (), 5, 2, 0).take(3))
    mixed = _prompts.PromptPlan(prompt_set, "mixed", POSITIVES, 5, 2, 0).take(6)
    assert [p.strategy for p in mixed] == ["zero-shot", "few-shot", "targeted"] * 2
    without = _prompts.PromptPlan(prompt_set, "mixed", (), 5, 2, 0).take(2)
    assert [p.strategy for p in without] == ["zero-shot", "targeted"]


def test_prompts_carry_definition_and_policy_and_ask_for_k_comments() -> None:
    prompt = _prompts.PromptPlan(_prompts.get_set("default"), "zero-shot", (), 4, 2, 0).take(1)[0]
    assert "toxic comment is" in prompt.system and "Content policy" in prompt.system
    assert "4 different toxic comments" in prompt.user
    one = _prompts.PromptPlan(_prompts.get_set("study"), "zero-shot", (), 1, 2, 0).take(1)[0]
    assert "one toxic comment" in one.user


def test_few_shot_without_positives_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="few-shot"):
        _prompts.PromptPlan(_prompts.get_set("default"), "few-shot", (), 5, 2, 0)


def test_user_prompt_file_adds_a_set_and_is_listed(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        '[short]\ndescription = "mine"\ndefinition = "Toxic means rude."\npolicy = "Only for a classifier."\n'
        'zero-shot = "Write {count}."\nfew-shot = "{examples}\\nWrite {count}."\ntargeted = "Write {count} about {group}."\n'
        'groups = ["referees"]\n'
    )
    prompt_set = _prompts.get_set("short", str(path))
    assert prompt_set.system == "Toxic means rude.\n\nOnly for a classifier."
    assert "prompts[short].zero-shot" in _prompts.listing(str(path))
    assert "prompts[default].few-shot" in _prompts.listing(str(path))


def test_bad_prompt_files_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[x]\ndefinition = "d"\npolicy = "p"\nzero-shot = "Write {cuont}."\nfew-shot = "{examples}"\ntargeted = "{group}"\n')
    with pytest.raises(UsageError, match="cuont"):
        _prompts.get_set("x", str(bad))
    with pytest.raises(UsageError, match="does not exist"):
        _prompts.get_set("x", str(tmp_path / "missing.toml"))
    with pytest.raises(SpecError, match="unknown prompt set"):
        _prompts.get_set("nope")
