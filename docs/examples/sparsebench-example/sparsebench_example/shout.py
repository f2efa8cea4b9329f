"""``shout``: two training positives joined and shouted, the plugin guide's generator."""

import random

from sparsebench import GeneratedBatch, Generator, Param, hookimpl


class Shout(Generator):
    name = "shout"
    description = "two real training positives joined, in capitals"
    parameters = (Param("marks", "int", 1, "exclamation marks after each part", low=1, high=5),)

    def generate(self, request):
        # request.positives: real TRAINING positives only; request.seed: the seed of this chunk
        if len(request.positives) < 2:
            return  # nothing to join: the runner reports the shortfall
        rng = random.Random(request.seed)
        bang = "!" * self.config["marks"]
        written = set()
        for _ in range(20):  # give up after 20 batches instead of looping forever
            batch = []
            for _ in range(16):
                first, second = rng.sample(request.positives, 2)
                text = f"{first.upper()}{bang} {second.upper()}{bang}"
                if not request.is_known(text) and text not in written:  # not a real row, not written before
                    written.add(text)
                    batch.append(text)
            yield GeneratedBatch(batch, raw=16, rejected={"duplicate": 16 - len(batch)})


@hookimpl
def register_generators(register):
    register(Shout)
