"""The fine-tuning loop shared by the ``bert`` and ``t5`` classifiers.

:class:`FineTuned` does everything but the model-specific parts: find and load the weights offline,
tokenize once, pick the training rows under the budget, train on length-bucketed batches with
dynamic padding (bf16 autocast on CUDA), check validation average precision a few times, keep the
best checkpoint, stop early when it stops improving, and score in length-sorted batches.

Budgets: ``full`` trains on every row for ``epochs`` epochs; ``capped`` keeps every positive, samples
at most ``max_negatives`` negatives and stops after ``max_steps`` optimizer steps; ``auto`` (the
default) is ``capped`` on a CPU and ``full`` on a GPU. What was used goes into ``resources()``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from sparsebench import Classifier, Param, SpecError, Unavailable, Validation, quiet_transformers

from .._weights import find_weights
from ._torchutil import CLASS_WEIGHTS, DEVICE_HELP, PRECISIONS, check_device

BUDGETS = ("auto", "capped", "full")


def common_parameters(lr: float, max_steps: int, max_negatives: int) -> tuple[Param, ...]:
    """The parameters every fine-tuned classifier shares (``model`` and model-specific ones come first)."""
    return (
        Param("max_length", "int", 128, "tokens per text; longer texts are truncated", low=8, high=4096),
        Param("batch_size", "int", 32, "texts per optimizer step (scoring uses 2x on CPU, 8x on GPU)", low=1),
        Param("lr", "float", lr, "AdamW peak learning rate (linear warm-up, then linear decay)", low=1e-8, high=1.0),
        Param("weight_decay", "float", 0.01, "AdamW weight decay", low=0.0, high=1.0),
        Param("warmup", "float", 0.1, "share of the steps spent warming up the learning rate", low=0.0, high=0.5),
        Param("epochs", "int", 2, "passes over the (sampled) training rows; early stopping may end sooner", low=1),
        Param("budget", "str", "auto", "auto: capped on a CPU, full on a GPU; capped: max_negatives + max_steps; full: every row",
              choices=BUDGETS),
        Param("max_steps", "int", max_steps, "optimizer-step cap under the capped budget", low=1),
        Param("max_negatives", "int", max_negatives, "negatives sampled under the capped budget (every positive is kept)", low=1),
        Param("evals", "int", 2, "validation checks spread over training (best checkpoint kept); 0: keep the last", low=0),
        Param("patience", "int", 1, "stop after this many checks without a better validation average precision", low=1),
        Param("class_weight", "str", "sqrt", "loss weights: balanced n/(2 n_c), sqrt(n_neg/n_pos) on positives, or none",
              choices=CLASS_WEIGHTS),
        Param("precision", "str", "auto", "auto: bf16 autocast on CUDA and on CPUs with native bf16 (AVX512-BF16/AMX), else fp32",
              choices=PRECISIONS),
        Param("device", "str", "auto", DEVICE_HELP),
        Param("trust_remote_code", "bool", False, "run code shipped with the weights (only if you trust them)"),
        Param("random_state", "int", None, "seed (set by the runner per cell)", nullable=True),
    )


class FineTuned(Classifier):
    """Base class; subclasses set ``auto_model``, ``how_to`` and the four model hooks."""

    auto_model: ClassVar[str] = ""
    how_to: ClassVar[str] = ""
    gpus: ClassVar[float] = 1.0  # one GPU per cell task under the Ray executor, when run on CUDA
    model: str
    max_length: int
    batch_size: int
    lr: float
    weight_decay: float
    warmup: float
    epochs: int
    budget: str
    max_steps: int
    max_negatives: int
    evals: int
    patience: int
    class_weight: str
    precision: str
    device: str
    trust_remote_code: bool
    random_state: int | None

    # --- hooks for subclasses ---------------------------------------------------------------------

    def _check_params(self) -> None:
        """Model-specific parameter checks (raise SpecError)."""

    def _prepare(self, tokenizer: Any, model: Any) -> None:
        """Called once after loading (e.g. to find the target token ids)."""

    def _encode(self, tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
        return tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]

    def _logits(self, model: Any, input_ids: Any, mask: Any) -> Any:
        """Two-column logits (negative, positive) for a batch."""
        raise NotImplementedError

    def _loss(self, model: Any, input_ids: Any, mask: Any, labels: Any, weights: Any) -> Any:
        """The weighted training loss for a batch (default: cross-entropy over the two logits)."""
        import torch

        return torch.nn.functional.cross_entropy(self._logits(model, input_ids, mask).float(), labels, weight=weights)

    # --- checks and loading -----------------------------------------------------------------------

    def check_available(self) -> None:
        """Parameter checks, then packages, then weights: every problem shows before training."""
        check_device(self.name, self.device)
        if self.budget not in BUDGETS:
            raise SpecError(f"classifier {self.name!r}: parameter 'budget' must be one of {', '.join(BUDGETS)}")
        self._check_params()
        import importlib.util

        missing = [p for p in ("torch", "transformers") if importlib.util.find_spec(p) is None]
        if missing:
            raise Unavailable(f"classifier {self.name!r} needs {' and '.join(missing)}: pip install 'sparsebench[transformers]'")
        self.weights_ = find_weights(self.model, f"classifier {self.name!r}", self.how_to)

    def _load(self) -> tuple[Any, Any]:
        """Tokenizer and model from local files only; a load failure is Unavailable with the reason."""
        import transformers

        folder = str(self.weights_.folder)
        options = {"local_files_only": True, "trust_remote_code": self.trust_remote_code}
        try:
            with quiet_transformers():
                tokenizer = transformers.AutoTokenizer.from_pretrained(folder, **options)
                model = getattr(transformers, self.auto_model).from_pretrained(folder, **options, **self._model_kwargs())
        except (OSError, ValueError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise Unavailable(f"classifier {self.name!r}: cannot load {self.weights_.model!r} from {folder}: {first}") from exc
        return tokenizer, model

    def _model_kwargs(self) -> dict[str, Any]:
        return {}

    # --- fit --------------------------------------------------------------------------------------

    def fit(self, X: Sequence[str], y: Any, validation: Validation | None = None) -> FineTuned:
        from ._torchutil import autocast_dtype, resolve_device, seeded

        self.check_available()
        labels = self._check_classes(y)
        self.device_ = resolve_device(self.name, self.device)
        self.dtype_ = autocast_dtype(self.name, self.precision, self.device_)
        self.stats_: dict[str, Any] = {}
        with seeded(self.random_state, self.device_) as rng:
            started = time.perf_counter()
            self.tokenizer_, model = self._load()
            self._prepare(self.tokenizer_, model)
            self.model_ = model.to(self.device_)
            self.stats_["load_s"] = time.perf_counter() - started
            rows = self._rows(labels, rng)
            ids = self._timed("tokenize_s", self._encode, self.tokenizer_, [X[i] for i in rows])
            val = self._validation(validation)
            self._train(ids, labels[rows], val, rng)
        return self

    def _timed(self, key: str, func: Any, *args: Any) -> Any:
        started = time.perf_counter()
        result = func(*args)
        self.stats_[key] = self.stats_.get(key, 0.0) + time.perf_counter() - started
        return result

    def _budget(self) -> str:
        if self.budget != "auto":
            return self.budget
        return "full" if self.device_.startswith("cuda") else "capped"

    def _rows(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The training rows the budget allows: all of them, or every positive plus sampled negatives."""
        negatives = np.flatnonzero(labels == 0)
        positives = np.flatnonzero(labels == 1)
        budget = self._budget()
        if budget == "capped" and len(negatives) > self.max_negatives:
            negatives = np.sort(rng.choice(negatives, size=self.max_negatives, replace=False))
        self.stats_.update(
            budget=budget,
            negatives_available=int((labels == 0).sum()),
            negatives_used=len(negatives),
            positives_used=len(positives),
        )
        return np.concatenate([negatives, positives])

    def _validation(self, validation: Validation | None) -> tuple[list[list[int]], np.ndarray, str] | None:
        from ._torchutil import texts_key

        if validation is None or self.evals == 0:
            return None
        texts, labels = list(validation[0]), np.asarray(validation[1]).astype(int)
        if len(set(labels.tolist())) < 2:
            return None  # average precision needs both classes
        return self._timed("tokenize_s", self._encode, self.tokenizer_, texts), labels, texts_key(texts)

    # --- the training loop ------------------------------------------------------------------------

    def _plan_steps(self, n_rows: int) -> int:
        steps = self.epochs * math.ceil(n_rows / self.batch_size)
        return min(steps, self.max_steps) if self._budget() == "capped" else steps

    def _train(self, ids: list[list[int]], labels: np.ndarray, val: Any, rng: np.random.Generator) -> None:
        import torch

        from sparsebench import phase

        total = self._plan_steps(len(ids))
        checks = _check_points(total, self.evals if val is not None else 0)
        optimizer, schedule = self._optimizer(total)
        weights = torch.as_tensor(_weights(labels, self.class_weight), dtype=torch.float32, device=self.device_)
        state = _Progress()
        loop_started = time.perf_counter()
        self.model_.train()
        with phase(f"fine-tuning {self.name}", total=total) as advance:
            while state.step < total and not state.stopped:
                for batch in _batches(ids, self.batch_size, rng):
                    self._step(ids, labels, batch, weights, optimizer, schedule, state)
                    advance(1)
                    if state.step in checks:
                        self._check(val, state)
                    if state.step >= total or state.stopped:
                        break
        _sync(self.device_)
        state.train_s = time.perf_counter() - loop_started - state.eval_s
        self._finish(state, total)

    def _optimizer(self, total: int) -> tuple[Any, Any]:
        import torch

        fused = True if self.device_.startswith("cuda") else None
        optimizer = torch.optim.AdamW(self.model_.parameters(), lr=self.lr, weight_decay=self.weight_decay, fused=fused)
        warm = max(1, round(self.warmup * total))

        def factor(step: int) -> float:
            return (step + 1) / warm if step < warm else max(0.0, (total - step) / max(1, total - warm))

        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    def _step(self, ids: list[list[int]], labels: np.ndarray, batch: np.ndarray, weights: Any,
              optimizer: Any, schedule: Any, state: _Progress) -> None:
        from ._torchutil import autocast, pad_batch, to_device

        input_ids, mask = pad_batch([ids[i] for i in batch], self._pad_id(), self.device_, self._pad_multiple())
        target = to_device(labels[batch].astype(np.int64), self.device_)
        with autocast(self.device_, self.dtype_):
            loss = self._loss(self.model_, input_ids, mask, target, weights)
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        state.loss_sum = state.loss_sum + loss.detach().float() * len(batch)
        state.step += 1
        state.seen += len(batch)

    def _check(self, val: Any, state: _Progress) -> None:
        """Validation average precision; keep the best weights, count checks without improvement."""
        from sklearn.metrics import average_precision_score

        _sync(self.device_)
        started = time.perf_counter()
        ids, labels, key = val
        scores = self._scores(ids)
        ap = float(average_precision_score(labels, scores))
        state.history.append((state.step, round(ap, 5)))
        if ap > state.best_ap:
            state.best_ap, state.best_step, state.bad = ap, state.step, 0
            state.best_state = {k: v.detach().clone() for k, v in self.model_.state_dict().items()}
            self.val_cache_: tuple[str, np.ndarray] | None = (key, scores)
        else:
            state.bad += 1
            state.stopped = state.bad >= self.patience
        self.model_.train()
        state.eval_s += time.perf_counter() - started

    def _finish(self, state: _Progress, total: int) -> None:
        if state.best_state is not None and state.best_step != state.step:
            self.model_.load_state_dict(state.best_state)
        if state.best_state is None:
            self.val_cache_ = None
        self.model_.eval()
        self.stats_.update(
            planned_steps=total,
            steps=state.step,
            best_step=state.best_step if state.best_state is not None else state.step,
            stopped_early=state.stopped,
            samples_seen=state.seen,
            train_loop_s=round(state.train_s, 3),
            train_loop_samples_per_s=round(state.seen / state.train_s, 1) if state.train_s > 0 else None,
            eval_s=round(state.eval_s, 3),
            val_average_precision=state.history,
            final_train_loss=round(float(state.loss_sum) / max(state.seen, 1), 5),
        )

    # --- scoring ----------------------------------------------------------------------------------

    def _pad_id(self) -> int:
        pad = self.tokenizer_.pad_token_id
        return int(pad) if pad is not None else 0

    def _pad_multiple(self) -> int:
        """Widths rounded up to 8 on a GPU: a few distinct shapes (each new one costs kernel selection
        and allocator work there) and tensor-core friendly; exact widths on a CPU, where tokens cost."""
        return 8 if self.device_.startswith("cuda") else 1

    def _score_batch(self) -> int:
        """Scoring needs no gradients: larger batches, much larger on a GPU."""
        return self.batch_size * (8 if self.device_.startswith("cuda") else 2)

    def _scores(self, ids: list[list[int]]) -> np.ndarray:
        """Probability of the positive class for pre-tokenized texts, in length-sorted batches."""
        import torch

        from ._torchutil import autocast, length_batches, pad_batch

        self.model_.eval()
        scores = np.zeros(len(ids), dtype=np.float64)
        with torch.inference_mode():
            for batch in length_batches([len(row) for row in ids], self._score_batch(), None):
                input_ids, mask = pad_batch([ids[i] for i in batch], self._pad_id(), self.device_, self._pad_multiple())
                with autocast(self.device_, self.dtype_):
                    logits = self._logits(self.model_, input_ids, mask)
                scores[batch] = torch.softmax(logits.float(), dim=-1)[:, 1].cpu().numpy()
        return scores

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        from ._torchutil import texts_key

        texts = list(X)
        cache = getattr(self, "val_cache_", None)
        if cache is not None and cache[0] == texts_key(texts):
            positive = cache[1]  # the kept checkpoint already scored exactly these texts
        else:
            positive = self._scores(self._encode(self.tokenizer_, texts))
        return np.column_stack([1.0 - positive, positive])

    def resources(self) -> dict[str, Any]:
        if not hasattr(self, "weights_"):
            return {}
        found = self.weights_.describe()
        if not hasattr(self, "model_"):
            return found
        return {
            **found,
            "device": self.device_,
            "dtype": "bf16-autocast" if self.dtype_ is not None else "fp32",
            "parameters": sum(p.numel() for p in self.model_.parameters()),
            **self.stats_,
        }


class _Progress:
    """Mutable state of one training run."""

    def __init__(self) -> None:
        self.step = 0
        self.seen = 0
        self.loss_sum: Any = 0.0
        self.train_s = 0.0
        self.eval_s = 0.0
        self.best_ap = -1.0
        self.best_step = 0
        self.best_state: dict[str, Any] | None = None
        self.bad = 0
        self.stopped = False
        self.history: list[tuple[int, float]] = []


def _check_points(total: int, evals: int) -> set[int]:
    """``evals`` step numbers spread evenly over ``total`` steps, the last one at the end."""
    if evals <= 0 or total <= 0:
        return set()
    return {max(1, round(total * (k + 1) / evals)) for k in range(evals)}


def _batches(ids: list[list[int]], batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    from ._torchutil import length_batches

    return length_batches([len(row) for row in ids], batch_size, rng)


def _weights(labels: np.ndarray, mode: str) -> list[float]:
    from ._torchutil import class_weights

    return list(class_weights(labels, mode))


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(device)
