"""``bench summary``: the answer first, from the store: worth in real positives and cost, per dataset × classifier."""

from __future__ import annotations

import json
from typing import Any

import click

from sparsebench.cli.common import cost_options, metric_option, results_option


@click.command("summary")
@results_option
@metric_option
@cost_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def summary(results: str | None, metric: str | None, label_cost: float | None, device_hour_cost: float | None, as_json: bool) -> None:
    """Per dataset and classifier: the baseline, each generator's worth in real positives with its
    95% interval and its cost, and one plain sentence per dataset. Every number is read from the store.
    """
    from sparsebench.analysis.summary import sentences, summarise
    from sparsebench.contracts.settings import results_dir
    from sparsebench.storage.store import ResultStore

    with ResultStore(results_dir(results), create=False) as store:
        found = summarise(store.rows(), store.arrays, metric, label_cost, device_hour_cost)
    if as_json:
        click.echo(json.dumps(_as_json(found, sentences(found)), indent=2, default=str))
        return
    print_summary(found)


def print_summary(found: Any) -> None:
    """The summary's lines on stdout, as plain text (names come from plugins and users: never markup)."""
    from sparsebench.analysis.summary import text_lines
    from sparsebench.contracts.escaping import printable

    for line in text_lines(found):
        click.echo(printable(line))


def _as_json(found: Any, said: dict[str, str]) -> dict[str, Any]:
    return {
        "metric": found.metric, "label_cost": found.label_cost, "device_hour_cost": found.device_hour_cost, "sentences": said,
        "parts": [{"dataset": p.dataset, "classifier": p.classifier, "baseline": p.baseline, "seeds": p.seeds, "per_100_real_positives": p.per_100,
                   "generators": [{"generator": g.generator, "level": g.level, "verdict": g.verdict, **g.worth.as_dict(),
                                   "seconds_per_text": g.cost.seconds_per_text, "device": g.cost.device, "synthetic_texts": g.cost.texts,
                                   "device_seconds_per_real_label": g.cost.per_real_label_s} for g in p.lines]} for p in found.parts],
        "pooled": [{"generator": g, "classifier": c, "worth": m, "worth_low": lo, "worth_high": hi, "datasets": k}
                   for (g, c), (m, lo, hi, k) in sorted(found.pooled.items())],
    }
