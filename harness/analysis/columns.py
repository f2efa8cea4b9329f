"""The leaderboard's columns: one catalogue of keys, headers and how each value is shown.

Every view (the terminal table, Markdown, HTML, ``--sort``, ``--where``, ``--columns``) resolves
names through :func:`resolve`, so a header shown on screen (``AUPRC``, ``train/s``) is also a name
the options accept.
"""

from __future__ import annotations

from dataclasses import dataclass

from sparsebench.contracts.errors import UsageError


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    numeric: bool = True


CATALOGUE: tuple[Column, ...] = (
    Column("cell", "cell", False),
    Column("dataset", "dataset", False),
    Column("generator", "generator", False),
    Column("classifier", "classifier", False),
    Column("level", "level"),
    Column("seed", "seed"),
    Column("status", "status", False),
    Column("verdict", "vs reference", False),
    Column("vs_baselines", "vs baselines", False),
    Column("worth", "worth", False),
    Column("auprc", "AUPRC [95% CI]"),
    Column("f1@val", "F1@val [95% CI]"),
    Column("f1", "F1@val"),
    Column("precision@val", "P@val"),
    Column("recall@val", "R@val"),
    Column("auroc", "AUROC"),
    Column("pauroc@0.1", "pAUROC@0.1"),
    Column("f1@0.5", "F1@0.5 (study)"),  # the study's metric: a fixed threshold (see report.footnotes)
    Column("precision@0.5", "P@0.5 (study)"),
    Column("recall@0.5", "R@0.5 (study)"),
    Column("test_positives", "test pos"),
    Column("acceptance_rate", "accept"),
    Column("q_distinct_2", "distinct-2"),
    Column("q_self_similarity", "self-sim"),
    Column("q_novelty", "novelty"),
    Column("q_copy_share", "copies"),
    Column("q_precision", "fid P"),
    Column("q_recall", "fid R"),
    Column("q_label_validity", "valid"),
    Column("q_near_duplicates", "near-dup"),
    Column("hc_accuracy", "HateCheck"),
    Column("hc_worst", "worst functionality", False),
    Column("generation_texts_per_s", "gen texts/s"),
    Column("generation_tokens_per_s", "gen tok/s"),
    Column("train_samples_per_s", "train/s"),
    Column("predict_samples_per_s", "predict/s"),
    Column("cell_s", "cell s"),
)
BY_KEY = {c.key: c for c in CATALOGUE}

# The terminal's default: the verdict and the headline first; what a 120-column terminal can hold.
DEFAULT = (
    "vs_baselines", "verdict", "worth", "generator", "classifier", "level", "pauroc@0.1", "auprc", "f1", "precision@val", "recall@val",
    "hc_accuracy", "hc_worst", "status", "cell",
)
# The documents' default (Markdown, HTML): every column but the duplicate short F1.
WIDE = tuple(c.key for c in CATALOGUE if c.key != "f1")
# Dropped first when the terminal is too narrow; the verdicts, generator, classifier, level, pAUROC and AUPRC never are.
DROP_ORDER = (
    "q_near_duplicates", "q_copy_share", "q_self_similarity", "q_precision", "q_recall", "q_distinct_2", "q_novelty",
    "q_label_validity", "hc_worst", "hc_accuracy",
    "cell_s", "predict_samples_per_s", "generation_tokens_per_s", "train_samples_per_s", "generation_texts_per_s",
    "acceptance_rate", "recall@0.5", "precision@0.5", "f1@0.5", "seed", "auroc", "cell", "test_positives",
    "recall@val", "precision@val", "f1@val", "f1", "worth", "dataset", "status",
)
# Keys whose values are shares (0 to 1): ``level=5`` is refused, ``level=5%`` and ``level=0.05`` work.
SHARE_KEYS = ("level", "acceptance_rate", "q_label_validity", "q_copy_share", "hc_accuracy", "hc_worst_accuracy")


def _names(column: Column) -> set[str]:
    header = column.header.lower()
    return {column.key.lower(), header, header.split(" [", 1)[0]}


def resolve(name: str, known: list[str] | None = None) -> str:
    """The record key for ``name``: a key (``train_samples_per_s``) or a header shown (``train/s``, ``AUPRC``)."""
    wanted = name.strip().lower()
    for column in CATALOGUE:
        if wanted in _names(column):
            return "f1@val" if column.key == "f1" else column.key  # the short F1 column shows f1@val
    if known is not None:
        for key in known:
            if key.lower() == wanted:
                return key
        import difflib

        choices = sorted({c.header.split(" [", 1)[0] for c in CATALOGUE} | set(known))
        close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise UsageError(f"unknown column {name!r}{hint} (`bench leaderboard --wide` shows every column)")
    return name


def choose(spec: str | None, wide: bool) -> list[str]:
    """Column keys from ``--columns`` (``a,b,c``, or ``+x,-y`` to change the default) and ``--wide``."""
    base = list(WIDE if wide else DEFAULT)
    if not spec:
        return base
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        raise UsageError("--columns needs at least one column name, e.g. --columns generator,level,auprc")
    if all(p[0] in "+-" for p in parts):
        for part in parts:
            key = _column_key(part[1:])
            base = [k for k in base if k != key] + ([key] if part[0] == "+" else [])
        return base
    return [_column_key(p) for p in parts]


def _column_key(name: str) -> str:
    wanted = name.strip().lower()
    if wanted.startswith(("vs_", "vs ")) and wanted not in ("vs_baselines", "vs baselines", "vs reference"):
        return "vs_" + wanted[3:].strip().replace("-", "_")  # the verdict against one baseline, e.g. vs_oversample
    for column in CATALOGUE:
        if wanted in _names(column):
            return column.key
    import difflib

    choices = [c.header.split(" [", 1)[0] for c in CATALOGUE]
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise UsageError(f"--columns: unknown column {name!r}{hint}; choose from: {', '.join(choices)}")


def header(key: str) -> str:
    if key not in BY_KEY and key.startswith("vs_"):
        return "vs " + key[3:].replace("_", "-")
    return BY_KEY[key].header if key in BY_KEY else key


def is_verdict(key: str) -> bool:
    """Whether ``key`` is a verdict column: against the reference (``verdict``) or one baseline (``vs_<name>``)."""
    return key == "verdict" or key.startswith("vs_")



def short_dataset(label: str) -> str:
    """A short label for a dataset label, computed from that label alone (so it never changes with what
    else is stored): the name, then each parameter as its key (cut to three letters when longer than five) and its value,
    a path by its file name, a long value cut to 12 characters, a number in thousands as ``4k``.

    ``toxic-mix[negatives=4000,positives=600]`` reads ``toxic-mix[neg=4k,pos=600]``.
    """
    from sparsebench.contracts.errors import SpecError
    from sparsebench.contracts.params import parse_spec

    try:
        spec = parse_spec(label)
    except SpecError:
        return label
    if not spec.overrides:
        return spec.name
    inner = ",".join(f"{key if len(key) <= 5 else key[:3]}={_short_value(str(spec.overrides[key]))}" for key in sorted(spec.overrides))
    return f"{spec.name}[{inner}]"


def _short_value(value: str) -> str:
    value = value.rstrip("/").rsplit("/", 1)[-1]
    if value.isdigit() and len(value) >= 4 and value.endswith("000"):
        return f"{int(value) // 1000}k"
    return value if len(value) <= 12 else value[:11] + "…"


def short_datasets(labels: list[str]) -> dict[str, str]:
    """The short label of each dataset label (:func:`short_dataset`); where two labels in view would
    read the same, both keep their full label."""
    short = {label: short_dataset(label) for label in dict.fromkeys(labels)}
    seen: dict[str, int] = {}
    for value in short.values():
        seen[value] = seen.get(value, 0) + 1
    return {label: value if seen[value] == 1 else label for label, value in short.items()}
