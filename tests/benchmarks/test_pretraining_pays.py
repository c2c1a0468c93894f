"""benchmarks/pretraining_pays.py: the corpus it pretrains on (labels out, no evaluation text) and its verdicts."""

import pytest

from benchmarks import pretraining_pays


def test_sst2_documents_drop_labels_and_repeats_and_group_by_the_rarest_word(tmp_path):
    tsv = tmp_path / "train.tsv"
    tsv.write_text("sentence\tlabel\na  fine   film \t1\nthe film\t0\na fine film\t1\nsad film\t0\n"
                   "fine\t1\nthe sad end\t0\n")
    documents = pretraining_pays.sst2_documents(str(tsv), phrases_per_document=2)
    # Rarest words: 'a' (1) for 'a fine film', 'end' (1), 'fine' (2) x1, 'sad' (2), 'the' (2).
    assert documents == [["a fine film", "the sad end"], ["fine", "sad film"], ["the film"]]


def test_mrpc_pairs_become_two_sentence_documents_without_labels(tmp_path):
    tsv = tmp_path / "train.txt"
    tsv.write_bytes("\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n"
                    "1\t1\t2\tHe said so .\tHe told us .\r\n0\t3\t4\tOne .\tTwo .\r\n".encode("utf-8"))
    assert pretraining_pays.mrpc_documents(str(tsv)) == [["He said so .", "He told us ."], ["One .", "Two ."]]


def test_conll_documents_keep_words_and_drop_tags(tmp_path):
    conll = tmp_path / "train.txt"
    conll.write_text("-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n"
                     "\n-DOCSTART- -X- -X- O\n\nRain NN B-NP O\n.\t. O O\n")
    assert pretraining_pays.conll_documents(str(conll)) == [["EU rejects", "Peter"], ["Rain ."]]


def test_the_corpus_holds_no_evaluation_text(tmp_path):
    """The real shared data: no SST-2 dev row, MRPC test pair or CoNLL valid sentence that is not also
    training text is in the corpus; the sources are counted."""
    import os

    from tests.testing import REPO

    data = os.path.join(os.path.dirname(REPO), "shared", "data")
    if not os.path.isdir(data):
        pytest.skip("../shared/data is not here")
    corpus = tmp_path / "corpus.txt"
    counts = pretraining_pays.write_corpus(data, str(corpus))
    lines = set(corpus.read_text(encoding="utf-8").splitlines())
    assert counts["SST-2 train phrases (no labels)"][1] > 50000
    train = {" ".join(r["sentence"].split()) for r in pretraining_pays._tsv_rows(os.path.join(data, "sst2", "train.tsv"))}
    dev = {" ".join(r["sentence"].split()) for r in pretraining_pays._tsv_rows(os.path.join(data, "sst2", "dev.tsv"))}
    assert not (dev - train) & lines
    test_pairs = pretraining_pays.mrpc_documents(os.path.join(data, "mrpc", "test.txt"))
    train_pairs = {s for d in pretraining_pays.mrpc_documents(os.path.join(data, "mrpc", "train.txt")) for s in d}
    assert not {s for d in test_pairs for s in d} - train_pairs & lines
    valid = {s for d in pretraining_pays.conll_documents(os.path.join(data, "conll2003", "valid.txt")) for s in d}
    conll_train = {s for d in pretraining_pays.conll_documents(os.path.join(data, "conll2003", "train.txt"))
                   for s in d}
    assert len(valid - conll_train) > 1000 and not (valid - conll_train) & lines


def test_verdicts():
    assert pretraining_pays.verdict([0.70, 0.72, 0.71], [0.60, 0.61, 0.62]).startswith("**pays**")
    assert pretraining_pays.verdict([0.60, 0.61, 0.62], [0.70, 0.72, 0.71]).startswith("**costs**")
    # Means apart but the seeds overlap: not claimed.
    assert pretraining_pays.verdict([0.70, 0.60, 0.72], [0.61, 0.62, 0.63]) == "within the seed spread"
    assert pretraining_pays.verdict([0.7], [0.6]) == "one seed: no spread to judge"
    assert pretraining_pays.diff_cell(pretraining_pays.difference([0.7, 0.8], [0.6, 0.7])) == "+0.100 ± 0.071"
    assert pretraining_pays.cell([0.5, 0.7]) == "0.600 ± 0.141 (n=2, 0.500–0.700)"


def test_budgets_and_plan():
    assert pretraining_pays.parse_budgets("250, 1000,all") == [250, 1000, pretraining_pays.ALL]

    class Args:
        budgets = [pretraining_pays.ALL, 250]
        seeds, full_seeds = "1,2", "1"
        tasks = ["sst2", "mrpc"]
        hf_budgets = [250]

    plan = pretraining_pays.plan_runs(Args)
    assert plan[:4] == [pretraining_pays.Run("sst2", 250, c, s) for s in (1, 2) for c in ("pretrained", "random")]
    assert [(r.task, r.budget, r.seed) for r in plan[4:6]] == [("sst2", pretraining_pays.ALL, 1)] * 2
    assert [r.column for r in plan if r.task == "mrpc"] == ["pretrained", "random"] * 2
    assert [(r.column, r.seed) for r in plan[-2:]] == [("hf", 1), ("hf", 2)]
