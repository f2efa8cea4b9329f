"""Helpers shared by the torch classifiers: device and precision, seeding, batches, class weights.

Imported only from inside ``fit``/``predict_proba`` of the plugins (it imports torch at call time,
never at module import), so ``bench list`` stays fast.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from sparsebench import SpecError, Unavailable

DEVICE_HELP = "auto (CUDA when present, else CPU), cpu, cuda or cuda:N"
PRECISIONS = ("auto", "bf16", "fp32")
CLASS_WEIGHTS = ("balanced", "sqrt", "none")


def check_device(owner: str, device: str) -> None:
    """A clear error for a device string torch would not understand (before anything runs)."""
    name = device.strip().lower()
    if name in {"auto", "cpu", "cuda"} or (name.startswith("cuda:") and name[5:].isdigit()):
        return
    raise SpecError(f"classifier {owner!r}: parameter 'device' must be {DEVICE_HELP}; got {device!r}")


def resolve_device(owner: str, device: str) -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; a CUDA device that is absent is Unavailable."""
    import torch

    check_device(owner, device)
    name = device.strip().lower()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise Unavailable(f"classifier {owner!r} asked for device {device!r} but torch sees no CUDA GPU; use device=cpu or auto")
    return name


def autocast_dtype(owner: str, precision: str, device: str) -> Any:
    """The autocast dtype (``torch.bfloat16``) or ``None`` for fp32.

    ``auto`` is bf16 where the hardware computes it natively (CUDA; CPUs with AVX512-BF16 or AMX,
    where it is about 1.5x faster than fp32), else fp32.
    """
    import torch

    if precision not in PRECISIONS:
        raise SpecError(f"classifier {owner!r}: parameter 'precision' must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if precision == "fp32":
        return None
    if precision == "auto" and not (device.startswith("cuda") or cpu_has_bf16()):
        return None
    return torch.bfloat16


def cpu_has_bf16() -> bool:
    """Whether this CPU has native bf16 matrix instructions (AVX512-BF16 or AMX)."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    try:
        return any(bool(getattr(torch.cpu, name)()) for name in checks if hasattr(torch.cpu, name))
    except Exception:  # noqa: BLE001 - a private probe that fails means "no"
        return False


@contextlib.contextmanager
def autocast(device: str, dtype: Any) -> Iterator[None]:
    """bf16 autocast when ``dtype`` is set, a no-op otherwise."""
    import torch

    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.split(":")[0], dtype=dtype):
        yield


@contextlib.contextmanager
def seeded(seed: int | None, device: str) -> Iterator[np.random.Generator]:
    """Seed torch (CPU and the used GPU), numpy's legacy state and ``random`` inside the block only.

    Torch's global RNG is forked, so the caller's random state is untouched afterwards. Yields a
    numpy ``Generator`` for the caller's own sampling.
    """
    import torch

    value = 0 if seed is None else int(seed)
    devices = [torch.device(device).index or 0] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(value)
        random.seed(value)
        yield np.random.default_rng(value)


@contextlib.contextmanager
def flush_denormals() -> Iterator[None]:
    """Treat denormal floats as zero inside the block (CPU only; restored afterwards).

    Adam's second-moment estimates of rarely active TF-IDF features decay into denormals, which
    made the study's MLP several times slower on a CPU.
    """
    import torch

    enabled = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if enabled:
            torch.set_flush_denormal(False)


def class_weights(labels: np.ndarray, mode: str) -> tuple[float, float]:
    """Loss weights (negative, positive): ``balanced`` = n / (2 n_c), ``sqrt`` = sqrt(n_neg / n_pos) on positives."""
    n_pos = max(int(labels.sum()), 1)
    n_neg = max(len(labels) - n_pos, 1)
    if mode == "balanced":
        total = n_pos + n_neg
        return total / (2 * n_neg), total / (2 * n_pos)
    if mode == "sqrt":
        return 1.0, float(np.sqrt(n_neg / n_pos))
    return 1.0, 1.0


def length_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Batches of similar length: dynamic padding then wastes little.

    For training (``rng`` given) the rows are shuffled, sorted by length inside pools of 50 batches,
    cut into batches, and the batch order is shuffled. For scoring (``rng`` None) rows are simply
    sorted by length, longest first, so the first batch shows the peak memory.
    """
    sizes = np.asarray(lengths)
    if rng is None:
        order = np.argsort(-sizes, kind="stable")
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    order = rng.permutation(len(sizes))
    pool = batch_size * 50
    batches: list[np.ndarray] = []
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(sizes[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def pad_batch(ids: Sequence[Sequence[int]], pad_id: int, device: str, multiple: int = 1) -> tuple[Any, Any]:
    """Right-padded ``input_ids`` and ``attention_mask`` tensors for one batch, moved to ``device``.

    The width is the longest row rounded up to ``multiple``. Both tensors travel in one pinned
    buffer, so on CUDA the copy is asynchronous and the next batch is prepared while the GPU still
    works on this one.
    """
    longest = max(len(row) for row in ids)
    width = -(-longest // multiple) * multiple
    both = np.zeros((2, len(ids), width), dtype=np.int64)
    both[0].fill(pad_id)
    for i, row in enumerate(ids):
        both[0, i, : len(row)] = row
        both[1, i, : len(row)] = 1
    moved = to_device(both, device)
    return moved[0], moved[1]


def to_device(array: np.ndarray, device: str) -> Any:
    """A numpy array as a tensor on ``device``; through pinned memory (asynchronous) on CUDA."""
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if not device.startswith("cuda"):
        return tensor
    return tensor.pin_memory().to(device, non_blocking=True)


def texts_key(texts: Sequence[str]) -> str:
    """A digest of a list of texts (to recognise the validation set at scoring time)."""
    import hashlib

    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return f"{len(texts)}:{digest.hexdigest()}"
