"""The core of ``bench run``, usable from Python: a suite plus options become cells (:func:`plan`), cells run (:func:`run`).

    import sparsebench

    grid = sparsebench.plan(generators=["oversample", "eda"], classifiers=["logreg"], levels=["1%", "5%"])
    outcome = sparsebench.run(grid, results="results")
    for row in outcome.records:
        print(row["generator"], row["auprc"])

The CLI only parses options into :class:`Selection` and renders what these return. Errors are
:class:`~sparsebench.UsageError` with one line that names the option (as spelled on the command line).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sparsebench.contracts.errors import SelectionError, UsageError


@dataclass
class Selection:
    """What to run: a suite (the default one when ``None``), narrowed or overridden by the other fields.

    Empty component lists keep the suite's. Shares may be numbers or text (``0.05``, ``"5%"``).
    """

    suite: str | None = None
    datasets: Sequence[str] = ()
    generators: Sequence[str] = ()
    classifiers: Sequence[str] = ()
    levels: Sequence[str | float] = ()
    seeds: str | Sequence[int] | None = None
    mode: str | None = None
    base_share: str | float | None = None
    prevalence: str | float | None = None
    timeout: float | None = None
    generation_timeout: float | None = None
    bootstrap: int | None = None
    evaluations: Sequence[str] = ()  # functional test sets; empty keeps the suite's (every registered one)


@dataclass
class Plan:
    """A suite with the selection applied, and its cells in the order the runner works through them."""

    suite: Any
    cells: list[Any]
    plugins: Any = field(repr=False, default=None)


@dataclass
class Outcome:
    """What :func:`run` did: the runner's summary, the stored rows of the plan's cells, the store's path."""

    summary: Any
    records: list[dict[str, Any]]
    store: Path
    #: the controls check in plain words (:func:`sparsebench.protocol.controls.control_lines`)
    controls: list[str] = field(default_factory=list)
    #: the answer first (:func:`sparsebench.analysis.summary.summarise`): worth in real positives and cost
    answer: Any = None


def plan(selection: Selection | None = None, plugins: Any = None, **fields: Any) -> Plan:
    """Turn a suite and options into cells; nothing runs and nothing is written.

    Pass a :class:`Selection` or its fields as keywords. ``plugins`` is a loaded
    :class:`~sparsebench.hooks.loader.Plugins` (default: load the built-ins and installed plugins).
    """
    from sparsebench.contracts.enums import KINDS
    from sparsebench.engine.grid import plan_cells
    from sparsebench.hooks.loader import load_plugins

    chosen = replace(selection or Selection(), **fields)
    if chosen.suite is None and chosen.seeds is None and (chosen.datasets or chosen.generators or chosen.classifiers):
        chosen = replace(chosen, seeds="0")  # a hand-picked grid runs one seed unless told; suites keep their own
    loaded = plugins if plugins is not None else load_plugins()
    suite = _suite(chosen, loaded.registry)
    datasets, generators, classifiers, evaluations = (
        suite.resolve(loaded.registry, kind, list(getattr(chosen, kind + "s")) or None) for kind in KINDS
    )
    cells = plan_cells(datasets, generators, classifiers, suite.protocol, suite.seeds, suite.bootstrap, evaluations=evaluations)
    if chosen.seeds is None and not chosen.datasets:  # the suite's [only...] rules, unless seeds or datasets were chosen
        cells = [cell for cell in cells if suite.keeps(cell)]
    return Plan(suite, cells, loaded)


def run(
    grid: Plan,
    results: str | Path | None = None,
    data: str | Path | None = None,
    device: str = "auto",
    force: bool = False,
    download: bool = True,
    reporter: Any = None,
    command: str = "",
    executor: str = "sequential",
    address: str | None = None,
    metric: str | None = None,
    label_cost: float | None = None,
    device_hour_cost: float | None = None,
) -> Outcome:
    """Run a plan's cells, reusing stored ones, and return their rows (options as in ``bench run``).

    ``executor`` is ``"sequential"`` (here, one cell after another) or ``"ray"`` (``address``: a cluster to join);
    ``metric`` is the one the verdicts, the worth and the controls read (default the verdict metric);
    ``label_cost`` and ``device_hour_cost`` price the summary's cost.
    """
    from sparsebench.analysis.controls import controls_for
    from sparsebench.analysis.leaderboard import select
    from sparsebench.analysis.summary import summarise
    from sparsebench.contracts.settings import data_dir, results_dir
    from sparsebench.engine.executors import make_runner
    from sparsebench.engine.runner import RunOptions
    from sparsebench.storage.cache import GenerationCache
    from sparsebench.storage.store import ResultStore

    check_device(device)
    store = ResultStore(results_dir(None if results is None else str(results)))
    try:
        options = RunOptions(
            protocol=grid.suite.protocol, data_dir=data_dir(None if data is None else str(data)), device=device,
            timeout=grid.suite.timeout, generation_timeout=grid.suite.generation_timeout, force=force, download=download,
            command=command,
        )
        cache = GenerationCache(store.path.parent / "cache")
        summary = make_runner(executor, store, cache, options, reporter, address=address).run(grid.cells)
        rows = store.rows(summary.cell_ids)
        records = select(rows, arrays=store.arrays, metric=metric)
        controls = controls_for(rows, store.arrays, metric)
        answer = summarise(rows, store.arrays, metric, label_cost, device_hour_cost)
    finally:
        store.close()
    return Outcome(summary, records, store.path, controls, answer)


def stored_statuses(grid: Plan, results: str | Path | None = None) -> dict[str, str]:
    """The stored status of each of the plan's cells, read without creating a store where there is none."""
    from sparsebench.contracts.settings import results_dir
    from sparsebench.storage.store import STORE_NAME, ResultStore

    directory = results_dir(None if results is None else str(results))
    if not (directory / STORE_NAME).exists():
        return {}
    store = ResultStore(directory, create=False)
    try:
        return dict(store.statuses(c.cell_id for c in grid.cells))
    finally:
        store.close()


def check_device(device: str) -> None:
    if not (device == "auto" or device == "cpu" or device.startswith("cuda")):
        raise SelectionError("device", f"must be auto, cpu, cuda or cuda:N, got {device!r}")


def _suite(chosen: Selection, registry: Any) -> Any:
    """The suite named (or the default one), with the selection applied on top."""
    from sparsebench.engine.suite import DEFAULT_SUITE, load_suite, parse_seeds

    suite = load_suite(chosen.suite or DEFAULT_SUITE)
    suite.protocol = _protocol(suite.protocol, chosen)
    if chosen.seeds is not None:
        try:
            suite.seeds = parse_seeds(chosen.seeds if isinstance(chosen.seeds, str) else list(chosen.seeds), "seeds")
        except UsageError as exc:
            raise SelectionError("seeds", str(exc).removeprefix("seeds: ")) from None
    if chosen.timeout is not None:
        suite.timeout = _seconds(chosen.timeout, "timeout")
    if chosen.generation_timeout is not None:
        suite.generation_timeout = _seconds(chosen.generation_timeout, "generation_timeout")
    if chosen.bootstrap is not None:
        suite.bootstrap = chosen.bootstrap
    suite.check_params(registry)
    return suite


def _protocol(protocol: Any, chosen: Selection) -> Any:
    """The suite's protocol with the selection applied; errors name the options given."""
    from sparsebench.engine.suite import parse_level

    options = (("levels", chosen.levels), ("base_share", chosen.base_share), ("prevalence", chosen.prevalence))
    given: list[str] = []
    values: dict[str, Any] = {"mode": chosen.mode} if chosen.mode else {}
    for key, raw in options:
        if raw is None or (key == "levels" and not raw):
            continue
        given.append(key)
        try:
            if key == "levels":  # levels chosen by hand: no calibration levels of the suite's are added
                values[key] = tuple(parse_level(v) for v in ([raw] if isinstance(raw, str | int | float) else raw))
                values["calibration_levels"] = ()
            else:
                values[key] = parse_level(raw)
        except UsageError as exc:
            raise SelectionError(key, str(exc)) from None
    try:
        return replace(protocol, **values).validate()
    except UsageError as exc:
        if given:
            raise SelectionError(", ".join(given), str(exc)) from None
        raise UsageError(f"the suite protocol: {exc}") from None


def _seconds(value: float, field: str) -> float:
    if not math.isfinite(value) or value <= 0:
        raise SelectionError(field, f"must be a positive number of seconds, got {value:g}")
    return value
