"""Lines of real text from ../shared/data, for tokenization parity tests and benchmarks."""

import json
import os

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.path.join(REPO_ROOT, "..", "shared", "data")
HAVE_DATA = os.path.isdir(DATA_DIR)


def _path(*parts):
    return os.path.join(DATA_DIR, *parts)


def sst2(split="train"):
    """SST-2 sentences (TSV `sentence<TAB>label` with a header)."""
    with open(_path("sst2", f"{split}.tsv"), encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f]
    return [row[0] for row in rows[1:]]


def mrpc(split="train"):
    """MRPC `#1 String` and `#2 String` of every pair (BOM and CRLF handled)."""
    with open(_path("mrpc", f"{split}.txt"), encoding="utf-8-sig", newline="") as f:
        rows = [line.rstrip("\r\n").split("\t") for line in f]
    return [row[3] for row in rows[1:]] + [row[4] for row in rows[1:]]


def conll2003(split="train"):
    """CoNLL-2003 sentences, tokens joined with spaces (-DOCSTART- dropped)."""
    sentences, tokens = [], []
    with open(_path("conll2003", f"{split}.txt"), encoding="utf-8") as f:
        for line in list(f) + [""]:
            line = line.strip()
            if not line or line.startswith("-DOCSTART-"):
                if tokens:
                    sentences.append(" ".join(tokens))
                tokens = []
            else:
                tokens.append(line.split()[0])
    return sentences


def squad2(field):
    """SQuAD 2.0 dev subset: `context` paragraphs or `question` strings."""
    with open(_path("squad2", "dev-subset.json"), encoding="utf-8") as f:
        data = json.load(f)["data"]
    paragraphs = [p for article in data for p in article["paragraphs"]]
    if field == "context":
        return [p["context"] for p in paragraphs]
    return [q["question"] for p in paragraphs for q in p["qas"]]


def pretrain(name):
    """Non-blank lines of a pretraining text (wikitext2-valid, wikitext2-test, grimm-tales)."""
    with open(_path("pretrain", f"{name}.txt"), encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


CORPORA = {
    "sst2/train": lambda: sst2("train"),
    "sst2/dev": lambda: sst2("dev"),
    "mrpc/train": lambda: mrpc("train"),
    "mrpc/test": lambda: mrpc("test"),
    "conll2003/train": lambda: conll2003("train"),
    "conll2003/valid": lambda: conll2003("valid"),
    "conll2003/test": lambda: conll2003("test"),
    "squad2/contexts": lambda: squad2("context"),
    "squad2/questions": lambda: squad2("question"),
    "pretrain/wikitext2-valid": lambda: pretrain("wikitext2-valid"),
    "pretrain/wikitext2-test": lambda: pretrain("wikitext2-test"),
    "pretrain/grimm-tales": lambda: pretrain("grimm-tales"),
}
