"""``bench report``: one self-contained HTML page built only from a results directory.

The page inlines its style and its figures (matplotlib SVG, see :mod:`sparsebench.render.figures`); it has
no script and loads nothing, and a Content-Security-Policy says so to the browser. Every text from
a dataset, a plugin or a user is escaped (:func:`sparsebench.render.html.esc`); plot labels are drawn as
SVG text, which matplotlib escapes, with mathtext off.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sparsebench.analysis import roles
from sparsebench.analysis.columns import header, short_datasets
from sparsebench.analysis.leaderboard import MIN_FLAGGED
from sparsebench.contracts.enums import Status
from sparsebench.render import figures
from sparsebench.render.html import esc, leaderboard_html, page, table
from sparsebench.render.report_sections import MAX_COLUMNS, evaluations_of, functional_matrix, functional_tables, quality_section
from sparsebench.render.summary_section import summary_body
from sparsebench.storage.samples import Generation, label_generations, read_generations


@dataclass
class ReportData:
    """What the report reads from the store, once."""

    rows: list[dict[str, Any]]
    records: list[dict[str, Any]]
    comparisons: list[Any]
    arrays: Callable[[str], Any]
    runs: list[dict[str, Any]]
    generations: list[Generation] = field(default_factory=list)
    title: str = "sparsebench report"
    metric: str = "pauroc@0.1"  # the verdicts' metric (sparsebench.analysis.paired.VERDICT_METRIC unless --metric)
    label_cost: float | None = None  # --label-cost and --device-hour-cost, for the summary's cost
    device_hour_cost: float | None = None
    sample_size: int = 12
    sample_seed: int = 0
    #: the dataset this view is restricted to ('' for the whole store), and its label on the page
    dataset: str = ""
    dataset_short: str = ""
    #: appended to the anchors and figure ids of a per-dataset section ('' with one dataset)
    suffix: str = ""

    def datasets(self) -> list[str]:
        """The dataset labels with stored cells, in order."""
        return sorted({r["dataset"] for r in self.records})

    def restricted(self, dataset: str, short: str, suffix: str) -> ReportData:
        """This data seen through one dataset: its rows, records, comparisons and generations only."""
        return replace(
            self, rows=[r for r in self.rows if r["dataset"] == dataset], records=[r for r in self.records if r["dataset"] == dataset],
            comparisons=[c for c in self.comparisons if c.dataset == dataset],
            generations=[g for g in self.generations if g.dataset == dataset], dataset=dataset, dataset_short=short, suffix=suffix,
        )


@dataclass(frozen=True)
class Section:
    """One section of the page: its anchor, its title, and the function that writes its body from the report data.

    A ``per_dataset`` section is written once per stored dataset, from the data restricted to that dataset
    (:meth:`ReportData.restricted`), so no figure or table mixes two datasets; the others once, from all of it.
    """

    anchor: str
    title: str
    body: Callable[[ReportData], str]
    per_dataset: bool = True


def _study_body(data: ReportData) -> str:
    return _note("The study's figure: one row of panels per classifier, one line per generator; precision and recall at the threshold "
                 "chosen on validation, and at 0.5 as the study had it (precision where a cell flags fewer than "
                 f"{MIN_FLAGGED} test rows is left out: it rests on a handful of rows). Bands: 95% intervals (bootstrap over test rows; "
                 "t-interval over seeds where there are several). real-only is the dotted level line. F1 and precision at 0.5 are the "
                 "study's metric: with training prevalence above the test's, a falling value at 0.5 can come from a shifted score "
                 "scale alone, so read them next to the validation-threshold panels.") + _figure(figures.study_figure, folded(data), "study", data)


def _auprc_body(data: ReportData) -> str:
    return _note("Average precision on test at the deployment prevalence. References: real-only (dotted, what you have), "
                 "oversample (dashed, the free baseline), real-extra (dash-dot, what more real labels would buy).") + _figure(
        figures.auprc_figure, folded(data), "auprc", data)


def _pr_body(data: ReportData) -> str:
    return _note("From each cell's stored test scores, positives weighted to the deployment prevalence (first seed).") + _figure(
        figures.pr_figure, curves_of(data), "pr", data)


def _calibration_body(data: ReportData) -> str:
    name = header(data.metric).split(" [", 1)[0]
    return _note(f"How to read it: the grey line is the upper bound's calibration curve, {name} (the verdicts' "
                 "metric, mean of seeds; bars: the seeds' range) against the real training positives added to real-only's (the "
                 "square at 0), from real-extra at each level, one below the base share. Each generator configuration sits at "
                 "its worth (x: the real positives that give the same metric on the curve) and its metric (y); the horizontal bar "
                 "is the worth's 95% interval (bootstrap and seeds). A triangle at the axis edge and a ≥ or ≤ in its label: beyond "
                 "the curve's range. Right of the curve: as good as more real labels; left of 0: as bad as losing some.") + _figure(
        lambda panels: figures.calibration_figure(panels, data.metric, data.dataset_short), calibration_panels(data), "calibration", data)


def calibration_panels(data: ReportData) -> list[figures.CalibrationPanel]:
    """A panel per (dataset, classifier) with a calibration curve (controls left out): the curve's mean over seeds,
    the reference's real positives, and every configuration with a worth placed on it."""
    from sparsebench.analysis.exchange import calibration, worths

    done = [r for r in data.rows if r.get("status") == Status.DONE and data.metric in (r.get("metrics") or {})]
    found = worths(done, data.arrays, data.metric)
    panels = []
    for (dataset, classifier), curves in sorted(calibration(done, data.arrays, data.metric).items()):
        members = [r for r in done if r["dataset"] == dataset and r["classifier"] == classifier]
        if any(roles.of(r).classifier == roles.CONTROL for r in members):
            continue
        panels.append(_calibration_panel(dataset, classifier, curves, members, found, data.metric))
    return panels


def _calibration_panel(dataset: str, classifier: str, curves: list[Any], members: list[dict[str, Any]], found: dict[Any, Any],
                       metric: str) -> figures.CalibrationPanel:
    import numpy as np

    from sparsebench.analysis.exchange import real_positives

    size = max({len(c.x) for c in curves}, key=lambda n: (sum(len(c.x) == n for c in curves), n))  # the arms most seeds have
    xs = np.array([c.x for c in curves if len(c.x) == size])
    ys = np.array([c.y for c in curves if len(c.x) == size])
    base = float(np.mean([real_positives(r) for r in members if roles.of(r).reference]))
    placed, unplaced = [], 0
    modes = {r["mode"] for r in members}
    curve_arms = {r["generator"] for r in members if roles.of(r).reference or roles.of(r).generator == roles.UPPER_BOUND}
    for key, worth in sorted(found.items(), key=lambda item: (item[0][1], item[0][3], item[0][4])):
        if key[0] != dataset or key[2] != classifier or key[1] in curve_arms:  # the curve's own arms are the curve
            continue
        if worth.value is None:
            unplaced += 1
            continue
        value = float(np.mean([r["metrics"][metric]["value"] for r in members
                               if (r["generator"], r["level"], r["mode"]) == (key[1], key[3], key[4])]))
        label = f"{key[1]} @ {key[3]:.2%}{f' ({key[4]})' if len(modes) > 1 else ''}: {worth.text()}"
        edge = "≥" if worth.value >= worth.highest - 0.5 else "≤" if worth.value <= worth.lowest + 0.5 else ""
        low, high = (worth.low if worth.low is not None else worth.value), (worth.high if worth.high is not None else worth.value)
        placed.append(figures.Placed(label, key[1], worth.value, low, high, value, edge))
    return figures.CalibrationPanel(dataset, classifier, base, tuple(xs.mean(axis=0)), tuple(ys.mean(axis=0)), tuple(ys.min(axis=0)),
                                    tuple(ys.max(axis=0)), tuple(placed), unplaced)


#: The page, in order. Plug a section in by inserting a :class:`Section` here (a summary first, say, with
#: ``per_dataset=False``, or a per-dataset figure after ``paired``); the navigation follows this list.
SECTIONS: list[Section] = [
    Section("summary", "Summary: what each generator is worth", summary_body, per_dataset=False),
    Section("study", "Precision and recall against the level", _study_body),
    Section("auprc", "AUPRC against the level", _auprc_body),
    Section("paired", "Paired differences and verdicts", lambda data: _paired(data)),
    Section("calibration", "Worth in real positives: the calibration curve", _calibration_body),
    Section("pr", "Precision–recall curves", _pr_body),
    Section("quality", "Quality of the generated sets", lambda data: _quality(data)),
    Section("functional", "Functional tests (HateCheck)", lambda data: _functional(data)),
    Section("throughput", "Throughput", lambda data: _throughput(data)),
    Section("controls", "Controls and warnings", lambda data: _controls(data)),
    Section("samples", "Generated samples", lambda data: _samples(data, data.sample_size, data.sample_seed)),
    Section("config", "Configuration and environment", lambda data: _config(data), per_dataset=False),
]


def load(store: Any, sample_cache: Path | None, metric: str | None = None) -> ReportData:
    from sparsebench.analysis.leaderboard import select
    from sparsebench.analysis.paired import VERDICT_METRIC, comparisons

    rows = store.rows()
    records = select(rows, arrays=store.arrays, metric=metric)
    found = comparisons(rows, store.arrays)
    generations = label_generations(read_generations(sample_cache), rows) if sample_cache else []
    return ReportData(rows, records, found, store.arrays, store.runs(), generations, metric=metric or VERDICT_METRIC)


def curves_of(data: ReportData) -> list[tuple[dict[str, Any], Any, Any]]:
    """Precision–recall curves of the done cells of the first seed, from their stored test scores."""
    from sparsebench.protocol.sparsity import deployment_weights

    first_seed = min((r["seed"] for r in data.records if r["status"] == Status.DONE), default=0)
    curves = []
    for record in data.records:
        if record["status"] != Status.DONE or record["seed"] != first_seed:
            continue
        stored = data.arrays(record["cell"])
        scores, labels = stored.get("test_scores"), stored.get("test_labels")
        if scores is None or labels is None or len(set(labels.tolist())) < 2:
            continue
        prevalence = next(r["config"]["prevalence"] for r in data.rows if r["cell_id"] == record["cell"])
        recall, precision = figures.pr_curve(scores, labels, deployment_weights(labels, prevalence))
        curves.append((record, recall, precision))
    return curves


def folded(data: ReportData) -> list[dict[str, Any]]:
    """Done records with the seeds of each configuration folded (mean and t-interval)."""
    from sparsebench.analysis.aggregate import aggregate_seeds
    from sparsebench.analysis.leaderboard import carry_flagged

    done = [r for r in data.records if r["status"] == Status.DONE]
    folded_records = aggregate_seeds(done)
    carry_flagged(done, folded_records)
    return folded_records


def build(data: ReportData, sample_size: int = 12, sample_seed: int = 0) -> str:
    """The whole page: the header, then :data:`SECTIONS`, those per dataset once for each dataset."""
    data = replace(data, sample_size=sample_size, sample_seed=sample_seed)
    views = _views(data)
    parts = [_header(data, views)]
    shared = [s for s in SECTIONS if not s.per_dataset]
    leading = [s for s in shared if SECTIONS.index(s) < _first_per_dataset()]
    parts += [_section(s.anchor, s.title, s.body(data)) for s in leading]
    for view in views:
        body = "".join(_section(s.anchor + view.suffix, s.title, s.body(view), level=3 if len(views) > 1 else 2)
                       for s in SECTIONS if s.per_dataset)
        parts.append(f'<section id="dataset{view.suffix}" class="dataset"><h2>Dataset {esc(view.dataset_short)}</h2>'
                     f'<p class="note">{esc(view.dataset)}</p>{body}</section>' if len(views) > 1 else body)
    parts += [_section(s.anchor, s.title, s.body(data)) for s in shared if s not in leading]
    return page(data.title, parts)


def _first_per_dataset() -> int:
    return next((i for i, s in enumerate(SECTIONS) if s.per_dataset), len(SECTIONS))


def _views(data: ReportData) -> list[ReportData]:
    """One restricted view per dataset (their anchors suffixed by a slug of the short label when there are several)."""
    labels = data.datasets()
    if len(labels) <= 1:
        only = labels[0] if labels else ""
        return [replace(data, dataset=only, dataset_short=short_datasets([only])[only] if only else "")]
    shorts = short_datasets(labels)
    return [data.restricted(label, shorts[label], f"-{_slug(shorts[label])}") for label in labels]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _header(data: ReportData, views: list[ReportData]) -> str:
    statuses: dict[str, int] = {}
    for record in data.records:
        statuses[record["status"]] = statuses.get(record["status"], 0) + 1
    counts = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    links = [f'<a href="#{s.anchor}">{esc(s.anchor)}</a>' for s in SECTIONS if not s.per_dataset] if len(views) > 1 else []
    if len(views) > 1:
        links[:0] = [f'<a href="#dataset{v.suffix}">{esc(v.dataset_short)}</a>' for v in views]
        when_many = f" Datasets: {len(views)}, one section each; no figure or table mixes two."
    else:
        links = [f'<a href="#{s.anchor}">{esc(s.anchor)}</a>' for s in SECTIONS]
        when_many = f" Dataset: {esc(views[0].dataset)}." if views and views[0].dataset else ""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return (f"<h1>{esc(data.title)}</h1><p>{len(data.records)} cells ({esc(counts)}); built {when} from the results store only.{when_many}</p>"
            f"<nav>{''.join(links)}</nav>")


def _section(anchor: str, title: str, body: str, level: int = 2) -> str:
    return f'<section id="{anchor}"><h{level}>{esc(title)}</h{level}>{body}</section>'


def _note(caption: str) -> str:
    return f'<p class="note">{esc(caption)}</p>' if caption else ""


def _figure(maker: Callable[..., Any], items: list[Any], name: str, data: ReportData) -> str:
    fig_id = f"fig-{name}{data.suffix}"
    if not items:
        return f'<figure id="{fig_id}" data-empty="1"><figcaption>nothing to draw: no finished cell has these values</figcaption></figure>'
    return f'<figure id="{fig_id}">{figures.to_svg(maker(items))}</figure>'


def _paired(data: ReportData) -> str:
    auprc = [c for c in data.comparisons if c.metric == data.metric]
    rows = [(c.generator, c.classifier, f"{c.level:.2%}", c.baseline, f"{c.delta:+.4f}", f"[{c.low:+.4f}, {c.high:+.4f}]", c.n_seeds, c.verdict)
            for c in sorted(auprc, key=lambda c: (c.baseline, c.classifier, c.generator, c.level))]
    baselines = sorted({c.baseline for c in auprc}, key=lambda b: (roles.rank(b) == 0, b)) or [""]
    body = "".join(_figure(lambda found, b=b: figures.forest_figure(found, data.metric, b, data.dataset_short), auprc, f"paired-{b}" if b else "paired", data)
                   for b in baselines)
    body += table(("generator", "classifier", "level", "baseline", f"Δ {data.metric}", "95% paired interval", "seeds", "verdict"), rows,
                  (False, False, True, False, True, True, True, False))
    return _note("Each cell minus its baseline (oversample at the same level, real-only at the base share) on the same test rows and "
                 "bootstrap resamples; over seeds a random-effects mean. helps: the interval lies above 0; hurts: below; "
                 "otherwise no evidence. One figure per baseline, a panel per classifier, each on its own scale.") + body


def _quality(data: ReportData) -> str:
    body, caption = quality_section(data.rows)
    return _note(caption) + body


def _functional(data: ReportData) -> str:
    names = evaluations_of(data.rows)
    if not names:
        return ("<p>No finished cell has functional scores: evaluation sets are scored when their data is present "
                        "(HateCheck: <code>hatecheck/test_suite_cases.csv</code> in the data directory).</p>")
    parts = []
    for index, name in enumerate(names):
        matrix = functional_matrix(data.rows, name)
        anchor = ("functional" if index == 0 else f"functional-{index}") + data.suffix
        left = (f" {len(matrix.left_out)} more configurations are left out of the figure, not of the table below "
                f"(the figure shows at most {MAX_COLUMNS}, whole classifiers in order): {', '.join(matrix.left_out)}.") if matrix.left_out else ""
        caption = (f"Accuracy on each {name} functionality (rows; hateful above the line, non-hateful below) of each configuration "
                   "(columns: generator × classifier at its highest level, the mean over its seeds), predicting toxic at the cell's validation "
                   f"threshold. Seeds per column: {', '.join(str(n) for n in sorted(set(matrix.seeds)))}.{left}")
        parts.append(f'<figure id="fig-{anchor}">{figures.to_svg(figures.functional_heatmap(matrix))}<figcaption>{esc(caption)}</figcaption></figure>')
        parts.append(functional_tables(data.rows, name))
    return _note("The cases never train, tune or choose anything. Read overall accuracy next to its hateful / non-hateful split: "
                 "a classifier that flags everything scores 100 % on every hateful and 0 % on every non-hateful functionality.") + "".join(parts)


def _throughput(data: ReportData) -> str:
    done = [r for r in data.records if r["status"] == Status.DONE]
    gens: dict[str, dict[str, Any]] = {}
    for r in done:
        gens.setdefault(r["generator"], r)
    rows = [(g, _num(r.get("generation_texts_per_s")), _num(r.get("generation_tokens_per_s")), _num(r.get("generation_s")),
             f"{r['acceptance_rate']:.0%}" if r.get("acceptance_rate") is not None else "") for g, r in sorted(gens.items())]
    body = _figure(figures.throughput_figure, done, "throughput", data)
    body += "<h3>Generation, per generator</h3>" + table(("generator", "texts/s", "tokens/s", "seconds", "accepted"), rows, (False, True, True, True, True))
    phases = [(r["generator"], r["classifier"], f"{r['level']:.2%}", _num(r.get("train_s")), _num(r.get("train_samples_per_s")),
               _num(r.get("predict_samples_per_s")), _num(r.get("cell_s"))) for r in done]
    body += "<h3>Training and prediction, per cell</h3>" + table(
        ("generator", "classifier", "level", "train s", "train samples/s", "predict samples/s", "cell s"), phases, (False, False, True, True, True, True, True))
    return _note("Measured while the cells ran, on the machine of the run (see the environment below).") + body


def _num(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return ""
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


def _controls(data: ReportData) -> str:
    from sparsebench.analysis.leaderboard import grouped_reasons

    controls = [r for r in data.records if roles.of(r).classifier == roles.CONTROL]
    body = leaderboard_html(controls, ("generator", "classifier", "level", "auprc", "auroc", "f1@val")) if controls else "<p>No control cells stored.</p>"
    warnings = [f"{len(cells)} {status}: {reason}" for (status, reason), cells in grouped_reasons(data.records).items()]
    warnings += _shortcut_warnings(data.records)
    body += "<h3>Warnings</h3>" + ("<ul>" + "".join(f"<li>{esc(w)}</li>" for w in warnings) + "</ul>" if warnings else "<p>None.</p>")
    return _note("A classifier that sees only the length (or only the source) of a text should score near the prevalence; "
                 "if it scores well, the dataset has a shortcut that is not toxicity.") + body


def _shortcut_warnings(records: list[dict[str, Any]]) -> list[str]:
    out = []
    for control in records:
        if roles.of(control).classifier != roles.CONTROL or control.get("auroc") is None:
            continue
        if control["auroc"] >= 0.75:
            out.append(f"control {control['classifier']} reaches AUROC {control['auroc']:.3f} with {control['generator']} at "
                       f"{control['level']:.2%}: the texts carry a shortcut")
    return out


def _samples(data: ReportData, size: int, seed: int) -> str:
    if not data.generations:
        return "<p>No generated texts in the cache of this results directory.</p>"
    parts = []
    for gen in data.generations:
        if not gen.texts:
            continue
        counts = ", ".join(f"{reason}: {n}" for reason, n in gen.rejected.most_common()) or "none"
        raw = f"{gen.raw:,} raw outputs, " if gen.raw is not None else ""
        items = "".join(f'<li class="sample">{esc(t)}</li>' for t in gen.sample(size, seed))
        parts.append(f"<h3>{esc(gen.label)} (seed {gen.seed})</h3><p>{raw}{len(gen.texts):,} accepted; rejected by reason: {esc(counts)}. "
                     f"A seeded sample of {min(size, len(gen.texts))} (sample seed {seed}); all of them: <code>bench samples {esc(gen.label)}</code>.</p>"
                     f"<ol>{items}</ol>")
    return "".join(parts)


def _config(data: ReportData) -> str:
    runs = [(r["run_id"], time.strftime("%Y-%m-%d %H:%M", time.gmtime(r["started_at"])), r["command"]) for r in data.runs]
    body = "<h3>Runs</h3>" + table(("run", "started (UTC)", "command"), runs)
    configs = {json.dumps({k: v for k, v in r["config"].items() if k not in ("generator", "classifier", "level")}, sort_keys=True) for r in data.rows}
    body += "<h3>Protocol and data</h3>" + "".join(f'<pre class="sample">{esc(json.dumps(json.loads(c), indent=2))}</pre>' for c in sorted(configs))
    envs = {json.dumps(r["env"], sort_keys=True, indent=2) for r in data.runs}
    body += "<h3>Environment</h3>" + "".join(f'<pre class="sample">{esc(e)}</pre>' for e in sorted(envs))
    for view in _views(data):
        where = f" of {view.dataset_short}" if view.suffix else ""
        body += f"<h3>Every cell{esc(where)}</h3>" + leaderboard_html(view.records, _ALL)
    return body


_ALL = ("cell", "dataset", "generator", "classifier", "level", "seed", "status", "vs_baselines", "verdict", "worth", "auprc", "f1@val", "auroc",
        "test_positives", "acceptance_rate", "generation_texts_per_s", "train_samples_per_s", "cell_s")
