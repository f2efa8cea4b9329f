"""``olid``: TweetEval's offensive task read from the data directory, the plugin guide's dataset."""

import numpy as np

from sparsebench import DataError, Dataset, LabelledTexts, Param, hookimpl, sha256_file


class Olid(Dataset):
    name = "olid"
    description = "TweetEval offensive (OLID) tweets read with the standard library, 1 = offensive"
    parameters = (Param("splits", "str", "train,val,test", "which of the task's files to read"),)

    def load(self, ctx):
        folder = ctx.data_dir / "tweeteval" / "offensive"
        texts, labels, files = [], [], {}
        for split in self.config["splits"].split(","):
            text_file, label_file = folder / f"{split}_text.txt", folder / f"{split}_labels.txt"
            for path in (text_file, label_file):
                if not path.is_file():
                    raise DataError(f"{path}: missing; point SPARSEBENCH_DATA at the shared data directory")
                files[path.name] = sha256_file(path)
            rows = text_file.read_text(encoding="utf-8").splitlines()
            marks = label_file.read_text(encoding="utf-8").splitlines()
            if len(rows) != len(marks):
                raise DataError(f"{label_file}: {len(marks)} labels for {len(rows)} texts in {text_file.name}")
            for line, (text, mark) in enumerate(zip(rows, marks, strict=True), start=1):
                if mark.strip() not in {"0", "1"}:
                    raise DataError(f"{label_file}, line {line}: label must be 0 or 1, got {mark!r}")
                texts.append(text.strip())
                labels.append(int(mark))
        return LabelledTexts(texts, np.array(labels), ["olid"] * len(texts), provenance={"files": files})


@hookimpl
def register_datasets(register):
    register(Olid)
