"""``t5``: T5 fine-tuned as a text-to-text classifier, as in the study.

The input is ``prefix + text``; the target is one word per class (``toxic`` / ``clean`` by
default). Training is teacher-forced cross-entropy of the target word's first token over the whole
vocabulary; the class score is the softmax of the decoder's first-step logits restricted to the two
target tokens. ``model`` is ``t5-base`` (the study's; read from the local Hugging Face cache only) or
a local directory. No package ships pretrained T5 weights, so on a fresh machine the cell is
``unavailable`` with a message that says how to provide them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sparsebench import Param, Register, SpecError, hookimpl

from ._finetune import FineTuned, common_parameters

_HOW_TO = (
    "no package ships T5 weights: pass model=DIR, a directory written by save_pretrained (model and tokenizer), "
    "or run `huggingface-cli download t5-base` where there is network"
)


class T5Classifier(FineTuned):
    name: ClassVar[str] = "t5"
    description: ClassVar[str] = "T5 fine-tuned text-to-text; score from the decoder's first-token logits over two target words"
    auto_model: ClassVar[str] = "T5ForConditionalGeneration"
    test_params: ClassVar[dict[str, Any]] = {"max_steps": 8, "batch_size": 16, "max_length": 32}  # conformance suite: quick
    how_to: ClassVar[str] = _HOW_TO
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("model", "str", "t5-base", "a hub id in the local cache (t5-base, the study's) or a directory"),
        Param("prefix", "str", "toxicity: ", "text put before every input"),
        Param("positive_word", "str", "toxic", "target word of the toxic class"),
        Param("negative_word", "str", "clean", "target word of the non-toxic class"),
        *common_parameters(lr=3e-4, max_steps=30, max_negatives=600),
    )
    # the constructor comes from `parameters`; these annotations only type the attributes it sets
    prefix: str
    positive_word: str
    negative_word: str

    def _check_params(self) -> None:
        positive, negative = self.positive_word.strip(), self.negative_word.strip()
        if not positive or not negative:
            raise SpecError("classifier 't5': positive_word and negative_word must not be empty")
        if positive == negative:
            raise SpecError(f"classifier 't5': positive_word and negative_word are both {positive!r}; they must differ")

    def _prepare(self, tokenizer: Any, model: Any) -> None:
        """Find the first token of each target word; they must differ or the score means nothing."""
        first = [self._first_token(tokenizer, word) for word in (self.negative_word, self.positive_word)]
        if first[0] == first[1]:
            raise SpecError(
                f"classifier 't5': {self.negative_word!r} and {self.positive_word!r} start with the same token "
                f"({tokenizer.convert_ids_to_tokens(first[0])!r}); choose target words that differ at the start"
            )
        self.target_ids_ = first
        start = model.config.decoder_start_token_id
        self.start_id_ = int(start if start is not None else model.config.pad_token_id or 0)

    def _first_token(self, tokenizer: Any, word: str) -> int:
        ids = tokenizer(word.strip(), add_special_tokens=False)["input_ids"]
        if not ids or ids[0] == tokenizer.unk_token_id:
            raise SpecError(f"classifier 't5': the tokenizer of {self.model!r} cannot spell the target word {word!r}")
        return int(ids[0])

    def _encode(self, tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
        return tokenizer([self.prefix + text for text in texts], truncation=True, max_length=self.max_length)["input_ids"]

    def _first_step_logits(self, model: Any, input_ids: Any, mask: Any) -> Any:
        import torch

        start = torch.full((input_ids.shape[0], 1), self.start_id_, dtype=torch.long, device=input_ids.device)
        return model(input_ids=input_ids, attention_mask=mask, decoder_input_ids=start).logits[:, 0, :]

    def _logits(self, model: Any, input_ids: Any, mask: Any) -> Any:
        return self._first_step_logits(model, input_ids, mask)[:, self.target_ids_]

    def _loss(self, model: Any, input_ids: Any, mask: Any, labels: Any, weights: Any) -> Any:
        """Cross-entropy of the target word's first token over the whole vocabulary, weighted by class."""
        import torch

        targets = torch.as_tensor(self.target_ids_, device=labels.device)[labels]
        losses = torch.nn.functional.cross_entropy(self._first_step_logits(model, input_ids, mask).float(), targets, reduction="none")
        row_weights = weights[labels]
        return (losses * row_weights).sum() / row_weights.sum()


@hookimpl
def register_classifiers(register: Register) -> None:
    register(T5Classifier)
