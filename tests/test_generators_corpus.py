"""The ``corpus`` generator (pre-generated texts from a file) and its ``toxigen`` preset over the real ToxiGen file."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from sparsebench import DataContext, DataError, GenerationRequest, Unavailable
from sparsebench.contracts.fingerprints import dedup_key
from sparsebench.contracts.params import parse_spec
from sparsebench.engine.generation import GenerationShortfall, generate
from sparsebench.engine.grid import plan_cells, resolve
from sparsebench.plugins.generators.corpus import TOXIGEN_FILE, CorpusGenerator, ToxiGen, parse_where
from sparsebench.protocol.leakage import EVAL_NEAR_DUPLICATE
from sparsebench.protocol.sparsity import Protocol, Splits, make_splits
from sparsebench.storage.cache import GenerationCache

_WORDS = ("apple bridge candle desert engine forest garden harbor island jungle kettle ladder meadow needle orchard pepper "
          "quarry river saddle tunnel valley wagon yellow zipper anchor basket cactus dragon feather glacier hammer").split()
_RNG = np.random.default_rng(5)
TEXTS = [" ".join(_RNG.choice(_WORDS, size=8, replace=False)) for _ in range(40)]  # unrelated: no two are near duplicates


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _rows() -> list[dict[str, object]]:
    return [{"text": t, "score": i % 5 + 1} for i, t in enumerate(TEXTS)]


def _request(n: int, seed: int = 0, known: set[str] | None = None) -> GenerationRequest:
    keys = {dedup_key(t) for t in known or set()}
    return GenerationRequest(n=n, positives=(), seed=seed, is_known=lambda t: dedup_key(t) in keys)


def _draw(gen: CorpusGenerator, request: GenerationRequest) -> list[str]:
    return [t for batch in gen.generate(request) for t in batch.texts]


def test_where_keeps_matching_rows_and_sampling_is_seeded_without_replacement(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "gen.jsonl", _rows())
    gen = CorpusGenerator(path=str(path), where="score>=4")
    wanted = {r["text"] for r in _rows() if int(r["score"]) >= 4}  # type: ignore[call-overload]
    first, second = _draw(gen, _request(8, seed=1)), _draw(gen, _request(8, seed=2))
    assert set(first) | set(second) <= wanted and not set(first) & set(second)  # the second request never redraws
    again = _draw(CorpusGenerator(path=str(path), where="score>=4"), _request(8, seed=1))
    assert again == first
    other = _draw(CorpusGenerator(path=str(path), where="score>=4"), _request(8, seed=3))
    assert other != first
    assert gen.resources()["corpus"] == {"rows": 40, "matching": 16, "usable": 16, "dropped_when_read": {}}


@pytest.mark.parametrize("suffix", [".csv", ".tsv.gz", ".jsonl.gz"])
def test_csv_tsv_and_gzip_files_read_the_same_texts(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"gen{suffix}"
    opener = gzip.open if suffix.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8", newline="") as handle:  # type: ignore[operator]
        if ".jsonl" in suffix:
            handle.writelines(json.dumps({"body": t, "score": 5}) + "\n" for t in TEXTS)
        else:
            writer = csv.writer(handle, delimiter="\t" if ".tsv" in suffix else ",")
            writer.writerow(["body", "score"])
            writer.writerows([t, 5] for t in TEXTS)
    gen = CorpusGenerator(path=str(path), text_column="body", where="score=5")
    assert sorted(_draw(gen, _request(len(TEXTS)))) == sorted(TEXTS)


def test_cleaning_drops_what_the_llm_generator_drops_and_counts_it(tmp_path: Path) -> None:
    rows = [{"text": t} for t in [*TEXTS[:5], "I'm sorry, but I cannot write that.", "too short", TEXTS[0].upper(), "1. " + TEXTS[1]]]
    gen = CorpusGenerator(path=str(_jsonl(tmp_path / "g.jsonl", rows)))
    texts = _draw(gen, _request(5))
    assert sorted(texts) == sorted(TEXTS[:5])
    assert gen.resources()["corpus"]["dropped_when_read"] == {"refusal": 1, "too short": 1, "duplicate": 2}


def test_real_rows_are_refused_and_running_out_is_a_clear_error_not_a_hang(tmp_path: Path) -> None:
    gen = CorpusGenerator(path=str(_jsonl(tmp_path / "g.jsonl", _rows())), where="score=5")
    batches = gen.generate(_request(20, known={TEXTS[4]}))
    batch = next(batches)
    assert len(batch.texts) == 7 and TEXTS[4] not in batch.texts and batch.rejected == {"matches a real row": 1}
    with pytest.raises(DataError, match=r"ran out of texts: 8 rows of 40 where score=5, 8 usable .* 1 match real rows, 7 drawn; 13 more"):
        next(batches)


def test_bad_settings_are_one_line_errors(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "g.jsonl", _rows())
    with pytest.raises(Unavailable, match="say which file"):
        CorpusGenerator().check_available()
    with pytest.raises(DataError, match="no such file"):
        CorpusGenerator(path=str(tmp_path / "missing.csv")).check_available()
    with pytest.raises(DataError, match="no column 'body'"):
        CorpusGenerator(path=str(path), text_column="body").check_available()
    with pytest.raises(DataError, match="no row of 40 has score>9"):
        CorpusGenerator(path=str(path), where="score>9").check_available()
    with pytest.raises(Exception, match="is not COLUMN OP VALUE"):
        parse_where("score")
    assert [str(c) for c in parse_where("toxicity_human>=4&actual_method=topk")] == ["toxicity_human>=4", "actual_method=topk"]


def test_identity_is_the_files_content(tmp_path: Path, plugins, data_dir: Path) -> None:  # noqa: ANN001
    path = _jsonl(tmp_path / "g.jsonl", _rows())
    registry = plugins.registry
    spec = resolve(registry, "generator", parse_spec(f"corpus[path={path}]"))
    dataset, classifier = resolve(registry, "dataset", parse_spec("toxic-mix")), resolve(registry, "classifier", parse_spec("length"))

    def cell_id() -> str:
        return plan_cells([dataset], [spec], [classifier], Protocol(), [0], 10, data_dir=data_dir)[0].cell_id

    before = cell_id()
    assert cell_id() == before
    _jsonl(path, [*_rows(), {"text": "one more synthetic remark about buses", "score": 5}])
    assert cell_id() != before


@pytest.fixture(scope="module")
def splits(data_dir: Path) -> Splits:
    from sparsebench.plugins.datasets.toxic_mix import ToxicMix

    data = ToxicMix(negatives=1500, positives=300, hard_negatives=True).load(DataContext(data_dir, download=False, seed=0))
    return make_splits(data, Protocol(), seed=0)


def test_near_copies_of_validation_and_test_rows_are_dropped_by_the_runner_and_counted(splits: Splits, tmp_path: Path) -> None:
    held_out = [t for t in [*splits.val_texts, *splits.test_texts] if len(t.split()) >= 20][:6]
    near = [" ".join(["pineapple", *t.split()[1:]]) for t in held_out]
    path = _jsonl(tmp_path / "g.jsonl", [{"text": t} for t in [*near, *TEXTS[:12]]])
    result = generate(CorpusGenerator(path=str(path)), splits, 12, 0, "cpu", GenerationCache(tmp_path / "cache"), chunk_size=12)
    assert sorted(result.texts) == sorted(TEXTS[:12])
    assert result.rejected[EVAL_NEAR_DUPLICATE] >= 1  # every near copy drawn (4 of 6 at seed 0) was dropped and counted
    assert dict(result.rejected) == {EVAL_NEAR_DUPLICATE: result.raw - 12}
    with pytest.raises(GenerationShortfall):  # 12 clean texts cannot fill two chunks of 12
        generate(CorpusGenerator(path=str(path)), splits, 24, 1, "cpu", GenerationCache(tmp_path / "cache2"), chunk_size=12)


def test_toxigen_reads_the_rated_file_with_its_checksum(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gen = ToxiGen()
    gen.check_available()
    corpus = gen.resources()["corpus"]
    assert corpus["rows"] == 8960 and corpus["matching"] == 2307 and 2200 < corpus["usable"] <= 2307
    human = {}
    with (data_dir / TOXIGEN_FILE).open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            human[dedup_key(row["text"])] = float(row["toxicity_human"])
    drawn = _draw(gen, _request(50))
    assert len(drawn) == 50 and all(human[dedup_key(t)] >= 4 for t in drawn)
    assert gen.fingerprint(DataContext(data_dir)) == {"sha256": gen.fingerprint(DataContext(data_dir))["sha256"]}
    bad = tmp_path / TOXIGEN_FILE
    bad.parent.mkdir(parents=True)
    bad.write_text("text,toxicity_human\nsomething,5\n", encoding="utf-8")
    monkeypatch.setenv("SPARSEBENCH_DATA", str(tmp_path))
    with pytest.raises(DataError, match="checksum mismatch"):
        ToxiGen().check_available()
    monkeypatch.setenv("SPARSEBENCH_DATA", str(tmp_path / "empty"))
    with pytest.raises(DataError, match="missing toxigen-annotated/annotated_train.csv"):
        ToxiGen().check_available()


def test_toxigen_is_in_the_default_suite_and_corpus_and_openai_are_not(plugins) -> None:  # noqa: ANN001
    from sparsebench.engine.planner import plan

    grid = plan(suite="default", plugins=plugins)
    names = {c.generator.name for c in grid.cells}
    assert "toxigen" in names and not names & {"corpus", "openai"}
    toxigen = [c for c in grid.cells if c.generator.name == "toxigen"]
    assert {c.seed for c in toxigen} == {0} and len({c.dataset.label for c in toxigen}) == 3  # toxic-mix at both scales and stormfront
    assert np.all([c.generator.identity["content"] == {"sha256": toxigen[0].generator.identity["content"]["sha256"]} for c in toxigen])
