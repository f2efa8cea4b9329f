"""The refill decoder (static cache, refilled rows) computes what the model computes, wherever a prompt lands."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from sparsebench.plugins.generators._refill import RefillDecoder  # noqa: E402

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

TINY = {"vocab_size": 300, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "multi_query": True,
        "parallel_attn": True, "bias": False, "alibi": False, "new_decoder_architecture": False}


@pytest.fixture(scope="module")
def falcon():
    torch.manual_seed(0)
    model = transformers.FalconForCausalLM(transformers.FalconConfig(**TINY)).eval()
    with torch.no_grad():  # larger weights than the init: logits far apart, so greedy choices are not near ties
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(4)
    return model


def prompts(n: int, shared: int = 12) -> list[list[int]]:
    g = torch.Generator().manual_seed(1)
    prefix = torch.randint(5, 290, (shared,), generator=g).tolist()
    return [prefix + torch.randint(5, 290, (int(n_own),), generator=g).tolist() for n_own in torch.randint(1, 9, (n,), generator=g)]


def test_greedy_tokens_are_the_models_argmax(falcon) -> None:
    """Each chosen token is the argmax of the plain model run over the prompt and the tokens before it."""
    batch = prompts(5)
    got = RefillDecoder(falcon, rows=3, max_len=40, eos_ids=[], vocab_limit=300, use_graph=False, check_every=2).generate(batch, 10, 0.0)
    for ids, done in zip(batch, got, strict=True):
        assert len(done.token_ids) == 10 and not done.stopped
        with torch.inference_mode():
            logits = falcon(input_ids=torch.tensor([ids + done.token_ids])).logits[0, len(ids) - 1 : -1]
        chosen = logits.gather(1, torch.tensor(done.token_ids)[:, None]).squeeze(1)
        assert float((logits.max(1).values - chosen).max()) < 1e-4


@pytest.mark.parametrize("device", DEVICES)
def test_refilled_rows_give_the_same_completions_as_a_wide_batch(falcon, device: str) -> None:
    """Two slots refilled many times (rows stopping early at an end-of-sequence rule) = every prompt in its own slot.

    On a GPU the narrow decoder also replays its step as CUDA graphs of several sizes; the wide one runs eagerly.
    """
    model = falcon.to(device)
    batch = prompts(9)
    eos = list(range(0, 300, 7))  # an end-of-sequence rule: about one token in seven ends a row
    narrow = RefillDecoder(model, rows=2, max_len=40, eos_ids=eos, vocab_limit=300, use_graph=device == "cuda", check_every=3)
    wide = RefillDecoder(model, rows=12, max_len=40, eos_ids=eos, vocab_limit=300, use_graph=False, check_every=1)
    a, b = narrow.generate(batch, 12, 0.0), wide.generate(batch, 12, 0.0)
    falcon.to("cpu")
    assert [x.token_ids for x in a] == [x.token_ids for x in b]
    assert any(x.stopped for x in a) and any(len(x.token_ids) < 12 for x in a)
    assert all((x.token_ids[-1] in eos) == x.stopped for x in a if x.token_ids)
    assert narrow.stats.refills > 3 and narrow.stats.busy_row_steps <= narrow.stats.row_steps
    assert narrow.stats.graph == (device == "cuda")


@pytest.mark.parametrize("device", DEVICES)
def test_finished_rows_leave_the_batch_and_the_rest_are_compacted(falcon, device: str) -> None:
    """Rows that end early are harvested and the rows still decoding move down: later steps compute fewer rows."""
    model = falcon.to(device)
    batch = prompts(24)
    eos = list(range(0, 300, 5))
    decoder = RefillDecoder(model, rows=8, max_len=40, eos_ids=eos, vocab_limit=300, use_graph=False, check_every=2, min_refill=6)
    got = decoder.generate(batch, 14, 0.0)
    single = RefillDecoder(model, rows=1, max_len=40, eos_ids=eos, vocab_limit=300, use_graph=False, check_every=1)
    want = [single.generate([p], 14, 0.0)[0].token_ids for p in batch]
    falcon.to("cpu")
    assert [x.token_ids for x in got] == want
    assert any(len(w) < 14 for w in want) and any(len(w) == 14 for w in want)
    assert decoder.stats.row_steps < decoder.stats.steps * 8  # some steps ran on fewer than the 8 slots
    assert decoder.stats.busy_row_steps == decoder.stats.row_steps  # eager: only live rows are computed


def test_sampling_is_reproducible_and_stays_in_the_top_k(falcon) -> None:
    batch = prompts(4)
    decoder = RefillDecoder(falcon, rows=4, max_len=40, eos_ids=[], vocab_limit=250, use_graph=False)
    torch.manual_seed(3)
    first = decoder.generate(batch, 8, 1.0, top_k=5)
    torch.manual_seed(3)
    second = decoder.generate(batch, 8, 1.0, top_k=5)
    assert [x.token_ids for x in first] == [x.token_ids for x in second]
    assert all(t < 250 for x in first for t in x.token_ids)


def test_other_layouts_are_refused() -> None:
    model = transformers.FalconForCausalLM(transformers.FalconConfig(**{**TINY, "multi_query": False})).eval()
    with pytest.raises(ValueError, match="Falcon-7B's layout"):
        RefillDecoder(model, rows=2, max_len=16, eos_ids=[], vocab_limit=300)


def test_a_repeated_prompt_is_prefilled_once_and_each_row_samples_its_own_tokens(falcon) -> None:
    """Rows of one prompt start from a copy of its keys and values; greedy rows agree, sampled rows differ."""
    distinct = prompts(4)
    batch = distinct * 3
    decoder = RefillDecoder(falcon, rows=5, max_len=40, eos_ids=[], vocab_limit=300, use_graph=False, check_every=2)
    got = decoder.generate(batch, 8, 0.0)
    fresh = RefillDecoder(falcon, rows=4, max_len=40, eos_ids=[], vocab_limit=300, use_graph=False, prompt_cache=0)
    want = [x.token_ids for x in fresh.generate(distinct, 8, 0.0)]
    assert [x.token_ids for x in got] == want * 3
    shared = 12  # prompts() share a 12-token prefix
    assert decoder.stats.prefilled_tokens == shared + sum(len(p) - shared for p in distinct)
    assert decoder.stats.reused_rows == 8
    again = decoder.generate(batch, 8, 0.0)  # every prompt is in the cache now: nothing is prefilled
    assert [x.token_ids for x in again] == want * 3
    assert decoder.stats.prefilled_tokens == shared + sum(len(p) - shared for p in distinct) and decoder.stats.reused_rows == 20
    torch.manual_seed(0)
    sampled = decoder.generate([distinct[0]] * 6, 8, 1.0, top_k=50)
    assert len({tuple(x.token_ids) for x in sampled}) > 1


def test_the_prompt_cache_keeps_only_the_most_recent_prompts(falcon) -> None:
    batch = prompts(6)
    decoder = RefillDecoder(falcon, rows=3, max_len=40, eos_ids=[], vocab_limit=300, use_graph=False, prompt_cache=2)
    first = decoder.generate(batch, 5, 0.0)
    assert list(decoder.cache) == [tuple(p) for p in batch[-2:]]
    assert [x.token_ids for x in decoder.generate(batch, 5, 0.0)] == [x.token_ids for x in first]
    none = RefillDecoder(falcon, rows=3, max_len=40, eos_ids=[], vocab_limit=300, use_graph=False, prompt_cache=0)
    assert [x.token_ids for x in none.generate(batch, 5, 0.0)] == [x.token_ids for x in first] and not none.cache
