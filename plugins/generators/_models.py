"""Loading the weights of a causal language model: dtype, int8 quantization, GGUF dequantization.

Which weights ``model`` names (the packaged SmolLM2-135M-Instruct ``smollm2``, a local directory or
``.gguf`` file, or a hub id, downloaded only when allowed) is decided by the built-ins' one resolver,
``plugins/_weights.py``; this module loads the :class:`~sparsebench.plugins._weights.Weights` it found.

The packaged GGUF is dequantized once (about 20 s) and the result cached under
``<user cache dir>/models``, written atomically, so later loads take a fraction of a second.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sparsebench import Unavailable, quiet_transformers

from .._weights import Weights

DTYPES = ("auto", "float32", "bfloat16", "float16", "int8")
QUANTIZED = "int8"


def require_packages() -> None:
    """Raise Unavailable when torch or transformers is missing."""
    missing = [name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None]
    if missing:
        raise Unavailable(f"needs {' and '.join(missing)}: pip install 'sparsebench[llm]'")


def torch_dtype(name: str, device: str) -> Any:
    """The torch dtype for ``name``; ``auto`` is float32 on a CPU and bfloat16 on a GPU; int8 loads float32 first."""
    import torch

    if name == QUANTIZED:
        return torch.float32
    if name == "auto":
        return torch.float32 if device == "cpu" else torch.bfloat16
    return getattr(torch, name)


def effective_dtype(name: str, weights: Weights, device: str) -> str:
    """What ``auto`` means: int8 on a CPU for GGUF weights (quantized already, as the packaged SmolLM2),
    float32 on a CPU for other weights, bfloat16 on a GPU; any other name stands."""
    if name != "auto":
        return name
    if device != "cpu":
        return "bfloat16"
    return QUANTIZED if weights.gguf_file else "float32"


def load(weights: Weights, device: str, dtype: str, trust_remote_code: bool = False) -> tuple[Any, Any]:
    """Load model and tokenizer (cached per process: the last model loaded stays in memory)."""
    return _load_cached(weights, device, effective_dtype(dtype, weights, device), trust_remote_code)


@functools.lru_cache(maxsize=1)
def _load_cached(weights: Weights, device: str, dtype: str, trust_remote_code: bool) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    location, gguf_file = weights.location, weights.gguf_file
    if weights.kind == "packaged":
        location, gguf_file = str(dequantized_copy(weights)), None
    common: dict[str, Any] = {"trust_remote_code": trust_remote_code, "local_files_only": weights.kind != "hub"}
    if gguf_file:
        common["gguf_file"] = gguf_file
    extra = {} if gguf_file else _legacy_falcon(location, weights.kind)
    try:
        with quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(location, **common)
            model = AutoModelForCausalLM.from_pretrained(location, dtype=torch_dtype(dtype, device), **common, **extra)
    except OSError as exc:
        raise Unavailable(f"cannot load weights of {weights.model}: {str(exc).splitlines()[0]}") from None
    model = model.to(device).eval()  # type: ignore[arg-type]
    if dtype == QUANTIZED:
        model = quantize_int8(model, device)
    return model, tokenizer


def quantize_int8(model: Any, device: str) -> Any:
    """Dynamic int8 quantization of every linear layer (per-output-channel weights; activations quantized per batch).

    CPU only (PyTorch's fbgemm/x86 kernels): on two AVX2 cores the linear layers of SmolLM2-135M run
    several times faster than in float32. Embeddings, norms and attention stay float32.
    """
    import warnings

    import torch

    if device != "cpu":
        raise Unavailable(f"dtype=int8 (dynamic quantization) runs on a CPU only, not on {device}: use bfloat16 there")
    try:
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
    except ImportError as exc:
        raise Unavailable(f"dtype=int8 needs torch.ao.quantization, which this torch lacks: {exc}") from None
    count = parameter_count(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch deprecates the quantized-tensor API in favour of torchao
        quantized = quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, inplace=False)
    quantized.sparsebench_quantized = QUANTIZED
    quantized.sparsebench_parameters = count
    return quantized


_LEGACY_FALCON = {"n_head": "num_attention_heads", "n_layer": "num_hidden_layers", "n_head_kv": "num_kv_heads"}


def _legacy_falcon(location: str, kind: str) -> dict[str, Any]:
    """A native Falcon config for checkpoints of the original ``RefinedWebModel`` code (the study's model).

    Such checkpoints (tiiuae/falcon-7b derivatives of 2023, WizardLM-Uncensored-Falcon-7b among them)
    declare ``model_type: RefinedWebModel`` and once needed ``trust_remote_code``; their weights use
    the names of transformers' own Falcon, so mapping the config is enough.
    """
    raw = _read_config(location, kind)
    if raw.get("model_type") not in ("RefinedWebModel", "RefinedWeb"):
        return {}
    from transformers import FalconConfig

    values = {_LEGACY_FALCON.get(key, key): value for key, value in raw.items() if key not in ("model_type", "architectures", "auto_map")}
    values["new_decoder_architecture"] = raw.get("model_type") == "RefinedWeb"
    return {"config": FalconConfig(**values)}


def _read_config(location: str, kind: str) -> dict[str, Any]:
    path: Any = Path(location) / "config.json"
    if kind == "hub":
        from huggingface_hub import try_to_load_from_cache

        path = try_to_load_from_cache(location, "config.json")
    if not isinstance(path, (str, Path)) or not Path(path).is_file():
        return {}
    try:
        loaded = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def dequantized_copy(weights: Weights) -> Path:
    """A float copy of a GGUF model in the user cache, made once and written atomically."""
    from sparsebench import user_cache_dir

    gguf = Path(weights.location) / str(weights.gguf_file)
    target = user_cache_dir() / "models" / f"{gguf.stem}-{gguf.stat().st_size}"
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _dequantize(gguf, scratch)
        os.rename(scratch, target)
    except ImportError as exc:
        raise Unavailable(f"reading {gguf.name} needs the gguf and accelerate packages: {exc}") from None
    except OSError:
        if not (target / "config.json").is_file():
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _dequantize(gguf: Path, out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def parameter_count(model: Any) -> int:
    """Parameters of the model as loaded (before quantization moved linear weights out of ``parameters()``)."""
    return int(getattr(model, "sparsebench_parameters", None) or sum(p.numel() for p in model.parameters()))


def dtype_name(model: Any) -> str:
    """``int8`` for a dynamically quantized model, else the dtype of its parameters."""
    if getattr(model, "sparsebench_quantized", None):
        return str(model.sparsebench_quantized)
    return str(next(model.parameters()).dtype).removeprefix("torch.")
