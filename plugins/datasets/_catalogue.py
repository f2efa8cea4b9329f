"""The public files the built-in datasets read: where each comes from, its checksum, how it is fetched.

Files are looked up under the data directory (``DataContext.data_dir``, ``SPARSEBENCH_DATA``). Each is
verified by SHA-256 before use. A missing file is downloaded from its public repository at a pinned
commit when downloads are allowed and the network is there; otherwise the error says which files to
put where. The readers of these files are in :mod:`._readers`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sparsebench import DataError, sha256_file

_RAW = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


@dataclass(frozen=True)
class Source:
    folder: str
    repo: str
    commit: str
    licence: str


SOURCES: dict[str, Source] = {
    "goemotions-reddit": Source("goemotions-reddit", "monologg/GoEmotions-pytorch", "b75f9d3a8b76bc1060687925b04ca98a1b8ea66b", "Apache-2.0"),
    "civil-comments-toxic-spans": Source("civil-comments-toxic-spans", "ipavlopoulos/toxic_spans", "beaf170538df8275c3447b2e26070f2f82e55272", "CC0-1.0"),
    "fox-news-comments": Source("fox-news-comments", "sjtuprog/fox-news-comments", "914b6bcdff380b16b6a11818e4760529fe23f2f3", "MIT"),
    "tweeteval": Source("tweeteval", "cardiffnlp/tweeteval", "4fbd22cd78421f05b1ecdb4fc5725bc7a7bd8f66", "see tweeteval/README.md"),
    "stormfront": Source("stormfront", "Vicomtech/hate-speech-dataset", "b802137e8314c38a8d4faa965f9908d6c8e7a84d", "CC BY-SA 3.0 ES"),
}


@dataclass(frozen=True)
class DataFile:
    """One file under the data directory: its path there, checksum, and upstream path.

    An empty ``upstream`` marks a file assembled from many upstream files (``stormfront/stormfront.csv``
    merges one file per sentence, see its SOURCE.txt): it is never downloaded, only verified.
    """

    path: str
    sha256: str
    upstream: str

    @property
    def source(self) -> Source:
        return SOURCES[self.path.split("/", 1)[0]]

    @property
    def url(self) -> str:
        src = self.source
        return _RAW.format(repo=src.repo, commit=src.commit, path=self.upstream)


def _files() -> dict[str, DataFile]:
    table = {
        "goemotions-reddit/train.tsv": ("1c254a142be5c00e80d819b9ae1bbd36d94b2eeb8f4b1271846508d57e57d9c5", "data/original/train.tsv"),
        "goemotions-reddit/dev.tsv": ("575489c079c9de1097062a01738f998590d6b7ead66dd1c9fd1d2ba01fd8bc62", "data/original/dev.tsv"),
        "goemotions-reddit/test.tsv": ("0587b2dd8b27b97352adbfc3fb083d46005c8946657fdc2b1ca8b1cc7f1f8be4", "data/original/test.tsv"),
        "civil-comments-toxic-spans/comments.csv": ("76cd6ebd10a890d269c0a7e5e451f3da12375219906f314fd9cfb1e18b1a905f", "data/comments.csv"),
        "civil-comments-toxic-spans/annotations.csv": ("f67725aa9de73cd4ef9050222f6ae985ef0e33e8da89cb8137ffeb9a1d0fc32b", "data/annotations.csv"),
        "fox-news-comments/fox-news-comments.jsonl": ("897af55e4b86567810da5d30b0f27f5c725c2f2e77d8a427c2fd3349c31080b5", "fox-news-comments.json"),
        "stormfront/stormfront.csv": ("f55b416c81fa3e4066238e8697af246961cdd8bccb0a198b7f3576ea8ee2726e", ""),
    }
    tweeteval = {
        "hate/train_text.txt": "6572bb3a42143128a5dfa99af8debeb0668e637c34b2d1e3140dac47316fe2c2",
        "hate/train_labels.txt": "4e8fde025a453a25c94632794254131dedeac4e57228ad64157c41571cc88f71",
        "hate/val_text.txt": "1ff78b1ed4c5ce43284b9eba32eb7d60c6d45d0d1b3b4d6df456ae01640764f1",
        "hate/val_labels.txt": "5092badf1a0e70036ea6264bcd0b78afc07d0f4a512fa6af34c2c4973600656b",
        "hate/test_text.txt": "bc4762876a8dd8baa55c3cd7b03108e3231a5d691e80b8b1ef97c5be31b9da9a",
        "hate/test_labels.txt": "c14adca6b3627616a835c5ccea8a1cceb0235cd79417257f093eb0e16a69c62f",
        "offensive/train_text.txt": "78a7a32e38b10af7d8970b008bf17f661c8d0a90dad145fa0fa6a944669650db",
        "offensive/train_labels.txt": "c0b7d6ebdaa4ebcf6fc557ef1e775d92eda160218a0e3b1dd48eb8234dc892a6",
        "offensive/val_text.txt": "816f36d180c35f15a5104838cb73856a0bef42043482fe738f3481b06242a55c",
        "offensive/val_labels.txt": "ed2deb776bd1c52fb8221fadd3360e32d9dfe46842d78053528126e46363a258",
        "offensive/test_text.txt": "25b08c3333c26190f1023961c4508ec9aab24d4722b1a3ea7a6040724c120547",
        "offensive/test_labels.txt": "41d05a7aa0b01f5dafab21b95adb4f979cb4226c046ff315702774d10dac1605",
        "emoji/train_text.txt": "eacb6b0ee1fe2803d72a009c2e731fe07659f604318a979951d2f07c23c564a1",
        "emoji/val_text.txt": "3bc3742d6af404cea792671878684d110f3bc02fd79a2e34643789a521d81a26",
        "emoji/test_text.txt": "e4de11de1597842c431dd67868e83322f5a432564dfd8558889ed8ac6a1a5e09",
        "emotion/train_text.txt": "2c62f67aeb3eac1aea0e5a9c3d0f4bc337992581f3f858061786a1fb4d79d95e",
        "emotion/val_text.txt": "e2e30c86b8cbb97944d6543aedc06eace3bb275cb2f381aba787b838b4f23ca5",
        "emotion/test_text.txt": "7e1070f5d3e3fcece5bc73680bff9981e90d8f7b2f1009bfe7a01d059d1c6091",
        "irony/train_text.txt": "a888125a44f7dfaa25b026318748d0e62cc9a300d20f66eafd62011a19eaea23",
        "irony/val_text.txt": "8806cf3793e300a485cfae34892fc3a0a2f9a183deb06c750c6531515c83051e",
        "irony/test_text.txt": "53103da934a7308eee82f05f2a9781a8ea3e88604fdc1e02d3101108505c64be",
        "sentiment/val_text.txt": "e5b021e6fc45064c260b09814b803d8f56cada519c4d952d72f43d48a350a964",
        "sentiment/test_text.txt": "09a93a55c63fd93f97485ef7302889d7edb4091cd49733aa37da094f0bfa0675",
    }
    for rel, digest in tweeteval.items():
        table[f"tweeteval/{rel}"] = (digest, f"datasets/{rel}")
    return {path: DataFile(path, digest, upstream) for path, (digest, upstream) in table.items()}


FILES: dict[str, DataFile] = _files()
_VERIFIED: dict[tuple[Path, int, float], str] = {}


def ensure_files(data_dir: Path, paths: Iterable[str], download: bool = True) -> dict[str, Path]:
    """Return verified local paths for ``paths``; download the missing ones if allowed."""
    wanted = [FILES[p] for p in paths]
    missing = [f for f in wanted if not (data_dir / f.path).is_file()]
    if missing and download:
        missing = _download_all(data_dir, missing)
    if missing:
        names = ", ".join(f.path for f in missing[:4]) + (" …" if len(missing) > 4 else "")
        error = DataError(
            f"missing data files under {data_dir}: {names} ({len(missing)} in all). Point SPARSEBENCH_DATA at a "
            f"directory holding them (for example ../shared/data) or allow the download from their public sources"
        )
        error.missing_files = [f.path for f in missing]  # a dry run reports these instead of refusing
        raise error
    for item in wanted:
        _verify(data_dir / item.path, item)
    return {f.path: data_dir / f.path for f in wanted}


def _verify(path: Path, item: DataFile) -> None:
    stat = path.stat()
    key = (path.resolve(), stat.st_size, stat.st_mtime)
    if _VERIFIED.get(key) == item.sha256:
        return
    actual = sha256_file(path)
    if actual != item.sha256:
        raise DataError(
            f"{path}: checksum mismatch (sha256 {actual[:16]}…, expected {item.sha256[:16]}…); "
            f"the file is corrupt or a different version: replace it with the one from {item.source.repo}@{item.source.commit[:10]}"
        )
    _VERIFIED[key] = item.sha256


def _download_all(data_dir: Path, files: list[DataFile]) -> list[DataFile]:
    """Download what can be fetched; return the files still missing (no network, say)."""
    from rich.progress import Progress

    still_missing: list[DataFile] = []
    with Progress(transient=True) as progress:
        task = progress.add_task("downloading data", total=len(files))
        for item in files:
            try:
                _download(item, data_dir / item.path)
            except OSError:
                still_missing.append(item)
            progress.advance(task)
    return still_missing


def _download(item: DataFile, target: Path) -> None:
    """Fetch ``item`` to a temporary file, transform it if needed, verify, then move it in place."""
    if not item.upstream:
        raise FileNotFoundError(f"{item.path} is assembled from {item.source.repo}, not downloaded as one file")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        raw = Path(tmp) / "download"
        with urllib.request.urlopen(item.url, timeout=30) as response, raw.open("wb") as out:  # noqa: S310 - pinned https URL
            shutil.copyfileobj(response, out)
        final = Path(tmp) / "final"
        _TRANSFORMS.get(item.path, _copy)(raw, final)
        actual = sha256_file(final)
        if actual != item.sha256:
            raise DataError(f"downloaded {item.url} but its checksum {actual[:16]}… does not match {item.sha256[:16]}…; not using it")
        final.replace(target)


def _copy(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)


def _fox_without_users(src: Path, dst: Path) -> None:
    """The shared copy drops the upstream ``user`` field: one JSON object per line, no user names."""
    with src.open(encoding="utf-8") as handle, dst.open("w", encoding="utf-8") as out:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                row.pop("user", None)
                out.write(json.dumps(row, ensure_ascii=False) + "\n")


_TRANSFORMS: dict[str, Callable[[Path, Path], None]] = {"fox-news-comments/fox-news-comments.jsonl": _fox_without_users}


def tweeteval_files(task: str, labelled: bool = True) -> list[str]:
    """The catalogue paths of a TweetEval task: its text files, and its label files when ``labelled``."""
    splits = ("val", "test") if task == "sentiment" else ("train", "val", "test")
    kinds = ("text", "labels") if labelled else ("text",)
    return [f"tweeteval/{task}/{s}_{k}.txt" for s in splits for k in kinds]
