"""``falcon-7b``: the study's generator, WizardLM-Uncensored-Falcon-7B, as a preset of ``llm``.

The study ran a GPTQ 4-bit build on a Colab L4 (about 50 s per comment); here the same model runs
in bfloat16 on a GPU through the ``llm`` generator's shared-prefix decoder, with the study's prompt
layout (definition, policy, ``### Response:``). The weights (about 14 GB) are not installable from a
package registry, so without them in the local Hugging Face cache the cell is ``unavailable``.
"""

from __future__ import annotations

from typing import ClassVar

from sparsebench import Param, Register, Unavailable, hookimpl

from .llm import LLMGenerator, with_defaults

STUDY_MODEL = "ehartford/WizardLM-Uncensored-Falcon-7b"


class Falcon7B(LLMGenerator):
    name: ClassVar[str] = "falcon-7b"
    description: ClassVar[str] = f"the study's generator: {STUDY_MODEL} (bf16 on a GPU instead of GPTQ), study prompts"
    chunk_size: ClassVar[int] = 64
    listed_sets: ClassVar[tuple[str, ...] | None] = ("study",)
    parameters: ClassVar[tuple[Param, ...]] = with_defaults(
        LLMGenerator.parameters,
        model=STUDY_MODEL,
        prompt_set="study",
        per_prompt=1,
        max_new_tokens=96,
        temperature=0.8,
        chunk_size=64,
    )

    def check_available(self) -> None:
        try:
            super().check_available()
        except Unavailable as exc:
            if self.config["model"] != STUDY_MODEL:
                raise
            raise Unavailable(
                f"falcon-7b needs the weights of {STUDY_MODEL} (about 14 GB; bf16 on a GPU with 16 GB or more), "
                f"and they are not on this machine: {exc}"
            ) from None


@hookimpl
def register_generators(register: Register) -> None:
    register(Falcon7B)
