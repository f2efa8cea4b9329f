"""The HateCheck functional test suite (Röttger et al., ACL 2021; CC BY 4.0) as an evaluation set.

3,728 short cases in 29 functionalities (derogation, threats, slurs, negation, counter-speech,
spelling variants, ...) over 7 protected groups; every case of one functionality has the same gold
label. Read from ``hatecheck/test_suite_cases.csv`` under the data directory, verified by SHA-256.
``per_functionality`` scores a fixed stratified subset instead of every case (the cost policy:
see docs/quality.md).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import ClassVar

from sparsebench import DataContext, DataError, EvaluationSet, FunctionalCases, Param, Register, hookimpl, sha256_file

CASES_FILE = "hatecheck/test_suite_cases.csv"
CASES_SHA256 = "ecf0dc1e93fccc90b6f880e632b19e635c0f0a68b3157915a9e20b6938f121cf"
REPOSITORY = "paul-rottger/hatecheck-data"
COMMIT = "d84302298ceeb34f4b0dde2d8a1f4932c2caa612"
UPSTREAM = f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/test_suite_cases.csv"
LABELS = {"hateful": 1, "non-hateful": 0}


class HateCheck(EvaluationSet):
    name: ClassVar[str] = "hatecheck"
    description: ClassVar[str] = "HateCheck functional tests: 3,728 cases, 29 functionalities, 7 target groups (CC BY 4.0)"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("per_functionality", "int", 0, "cases scored per functionality, stratified by target group; 0 = all 3,728", low=0, high=10_000),
    )

    def load(self, ctx: DataContext) -> FunctionalCases:
        cases = read_cases(verified_path(ctx.data_dir))
        return cases.stratified(int(self.config["per_functionality"]))


def verified_path(data_dir: Path) -> Path:
    path = data_dir / CASES_FILE
    if not path.is_file():
        raise DataError(f"missing {CASES_FILE} under {data_dir}: put HateCheck's test_suite_cases.csv there (from {UPSTREAM})")
    actual = sha256_file(path)
    if actual != CASES_SHA256:
        raise DataError(f"{path}: checksum mismatch (sha256 {actual[:16]}…, expected {CASES_SHA256[:16]}…); replace it with {UPSTREAM}")
    return path


def read_cases(path: Path) -> FunctionalCases:
    texts, labels, functions, targets = [], [], [], []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            gold = row["label_gold"].strip()
            if gold not in LABELS:
                raise DataError(f"{path}: case {row.get('case_id')!r} has label {gold!r}, expected hateful or non-hateful")
            texts.append(row["test_case"].strip())
            labels.append(LABELS[gold])
            functions.append(row["functionality"].strip())
            targets.append((row.get("target_ident") or "").strip())
    provenance = {"repository": REPOSITORY, "commit": COMMIT, "licence": "CC BY 4.0", "files": {CASES_FILE: CASES_SHA256}}
    return FunctionalCases(texts, labels, functions, targets, provenance)


@hookimpl
def register_evaluations(register: Register) -> None:
    register(HateCheck)
