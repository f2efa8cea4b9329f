"""The report's first section: the answer in the user's units (:mod:`sparsebench.analysis.summary`), as HTML."""

from __future__ import annotations

from typing import Any

from sparsebench.render.html import esc, table


def summary_body(data: Any) -> str:
    """The summary section's body: a sentence per dataset, then a table per dataset of worth and cost."""
    from sparsebench.analysis.summary import sentences, summarise

    found = summarise(data.rows, data.arrays, data.metric, data.label_cost, data.device_hour_cost)
    if not found.parts:
        body = ("<p>No generator could be placed on a calibration curve: the summary needs the reference (real-only), the upper bound "
                "(real-extra) at several levels and a generator, on one dataset and classifier.</p>")
        return _with_caption(body)
    said = sentences(found)
    parts = []
    for dataset in found.datasets():
        parts.append(f"<h3>{esc(dataset)}</h3><p>{esc(said[dataset])}</p>")
        rows = [(p.classifier, f"{p.baseline:.3f}" if p.baseline is not None else "", g.generator, f"{g.level:.2%}", g.worth.text(),
                 g.verdict or "", g.cost.text(found.device_hour_cost, found.label_cost))
                for p in found.parts if p.dataset == dataset for g in p.lines]
        parts.append(table(("classifier", f"baseline {found.metric}", "generator", "level", "worth (real positives)", "verdict", "cost"), rows,
                           (False, True, False, True, True, False, False)))
    pooled = [(g, c, f"{m:.0f} [{lo:.0f}, {hi:.0f}]", k) for (g, c), (m, lo, hi, k) in sorted(found.pooled.items())]
    if pooled:
        parts.append("<h3>Pooled across datasets</h3>" + table(("generator", "classifier", "worth (real positives)", "datasets"), pooled,
                                                             (False, False, True, True)))
    return _with_caption("".join(parts))


def _with_caption(body: str) -> str:
    caption = ("Worth: the real training positives that would give the same metric, read on the upper bound's calibration curve "
               "(real positives added, or taken away below the base share), with a 95% interval that carries the test set's "
               "bootstrap and the seeds (Hartung–Knapp). Cost: generation seconds per accepted text, and device-seconds per "
               "real-label equivalent. Every number is read from the results store.")
    return f'<p class="note">{esc(caption)}</p>{body}'
