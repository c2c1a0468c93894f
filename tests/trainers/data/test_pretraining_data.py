import itertools
import os
import random
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_bert.text import vocabulary
from keras_bert.trainers.data import pretraining_data as pd
from tests.testing import REPO

GRIMM = os.path.join(REPO, "..", "shared", "data", "pretrain", "grimm-tales.txt")

WORDS = ["the", "a", "king", "queen", "frog", "wolf", "forest", "castle", "gold", "went",
         "saw", "said", "and", "to", "of", "in", "old", "young", "happy", "play", "jump", "walk"]
SUFFIXES = ["##ing", "##ed", "##s"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ","] + WORDS + SUFFIXES
CLS, SEP, MASK = 2, 3, 4
SPECIAL = {"cls": CLS, "sep": SEP, "mask": MASK}
IS_CONT = [t.startswith("##") for t in VOCAB]
MAX_SEQ, MAX_PRED = 32, 5


def corpus_text(num_docs=8, sentences=(3, 10), seed=0):
    rng = random.Random(seed)
    docs = []
    for _ in range(num_docs):
        lines = []
        for _ in range(rng.randint(*sentences)):
            words = []
            for _ in range(rng.randint(3, 12)):
                w = rng.choice(WORDS)
                if w in ("play", "jump", "walk"):
                    w += rng.choice(["ing", "ed", "s"])
                words.append(w)
            lines.append(" ".join(words).capitalize() + ".")
        docs.append("\n".join(lines))
    return "\n\n".join(docs) + "\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("pretrain")
    vocab_file = d / "vocab.txt"
    vocab_file.write_text("\n".join(VOCAB) + "\n")
    text_file = d / "corpus.txt"
    text_file.write_text(corpus_text())
    return str(text_file), str(vocab_file)


@pytest.fixture(scope="module")
def documents(files):
    from keras_bert import BertPreprocessor

    text_file, vocab_file = files
    docs = pd.read_documents([text_file], BertPreprocessor(vocab_file, seq_length=MAX_SEQ))
    assert len(docs) == 8
    assert all(1 not in s for d in docs for s in d), "no [UNK] expected in the tiny corpus"
    return docs


def make(documents, seed=1, dupe=3, wwm=False, masked_lm_prob=0.15):
    docs = [[list(s) for s in d] for d in documents]
    return pd.create_training_instances(
        docs, len(VOCAB), SPECIAL, MAX_SEQ, dupe, 0.1, masked_lm_prob, MAX_PRED,
        random.Random(seed), wwm, IS_CONT,
    )


def vocabulary_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")


def original(instance):
    tokens = list(instance.tokens)
    for p, label in zip(instance.masked_lm_positions, instance.masked_lm_labels):
        tokens[p] = label
    return tokens


def key(ids):
    return "," + ",".join(map(str, ids)) + ","


def test_read_documents_splits_on_blank_lines(documents):
    text = corpus_text()
    expected = [len(d.split("\n")) for d in text.strip().split("\n\n")]
    assert [len(d) for d in documents] == expected


def test_deterministic_for_a_seed(documents):
    a, b, c = make(documents, seed=7), make(documents, seed=7), make(documents, seed=8)
    assert a == b
    assert a != c


def test_instance_structure(documents):
    instances = make(documents)
    assert len(instances) > 20
    for inst in instances:
        t, s = inst.tokens, inst.segment_ids
        assert len(t) == len(s) <= MAX_SEQ
        assert t[0] == CLS
        orig = original(inst)
        assert orig.count(SEP) == 2 and orig[-1] == SEP and CLS not in orig[1:]
        sep1 = orig.index(SEP)
        assert sep1 >= 2 and len(orig) - sep1 - 2 >= 1  # A and B non-empty
        assert s == [0] * (sep1 + 1) + [1] * (len(t) - sep1 - 1)
        positions = inst.masked_lm_positions
        assert positions == sorted(set(positions))
        # (the 10% random replacement may draw any id, as the original)
        assert all(orig[p] not in (CLS, SEP) for p in positions)
        assert 0 < len(positions) <= MAX_PRED
        assert len(positions) == min(MAX_PRED, max(1, round(len(t) * 0.15)))
    assert {i.is_random_next for i in instances} == {True, False}


def test_masked_lm_ids_are_the_original_text(documents):
    flat = [key(sum(d, [])) for d in documents]
    for inst in make(documents):
        orig = original(inst)
        sep1 = orig.index(SEP)
        a, b = orig[1:sep1], orig[sep1 + 1:-1]
        # A and B are contiguous runs of a document (truncation trims the ends);
        # B follows A in the same document when it is the actual next.
        assert any(key(a) in f for f in flat)
        assert any(key(b) in f for f in flat)
        if not inst.is_random_next:
            assert any(key(a) in f and key(b) in f[f.index(key(a)):] for f in flat)
        # Unmasked positions are untouched.
        masked = set(inst.masked_lm_positions)
        assert all(inst.tokens[i] == orig[i] for i in range(len(orig)) if i not in masked)


def test_mask_random_keep_ratio(documents):
    counts = {"mask": 0, "keep": 0, "random": 0}
    for inst in make(documents, dupe=40):
        for p, label in zip(inst.masked_lm_positions, inst.masked_lm_labels):
            out = inst.tokens[p]
            counts["mask" if out == MASK else "keep" if out == label else "random"] += 1
    total = sum(counts.values())
    assert total > 2000
    assert 0.76 < counts["mask"] / total < 0.84
    assert 0.07 < counts["keep"] / total < 0.14  # random can draw the label itself
    assert 0.06 < counts["random"] / total < 0.13


def test_masked_fraction_about_15_percent(documents):
    instances = make(documents, dupe=10, masked_lm_prob=0.15)
    masked = sum(len(i.masked_lm_positions) for i in instances)
    tokens = sum(len(i.tokens) for i in instances)
    assert 0.10 < masked / tokens < 0.17  # capped at MAX_PRED, at least 1


def test_whole_word_masking(documents):
    seen_multi = False
    for inst in make(documents, dupe=5, wwm=True):
        orig = original(inst)
        words = []
        for i, tok in enumerate(orig):
            if tok in (CLS, SEP):
                continue
            if words and IS_CONT[tok] and words[-1][-1] == i - 1:
                words[-1].append(i)
            else:
                words.append([i])
        masked = set(inst.masked_lm_positions)
        for w in words:
            hit = masked & set(w)
            assert not hit or hit == set(w), (orig, masked, w)
            seen_multi |= len(w) > 1 and hit == set(w)
        assert len(masked) <= MAX_PRED
    assert seen_multi


def test_tfrecord_round_trip(documents, tmp_path):
    instances = make(documents, dupe=1)
    outputs = [str(tmp_path / "a.tfrecord"), str(tmp_path / "b.tfrecord")]
    assert pd.write_instances(instances, ",".join(outputs), MAX_SEQ, MAX_PRED) == len(instances)
    assert sorted(os.listdir(tmp_path)) == ["a.tfrecord", "b.tfrecord"]  # no temp files left
    records = [list(tf.data.TFRecordDataset(p).as_numpy_iterator()) for p in outputs]
    assert len(records[0]) == (len(instances) + 1) // 2
    interleaved = [r for pair in zip(*records) for r in pair] + records[0][len(records[1]):]
    for inst, record in zip(instances, interleaved):
        f = pd.parse_pretraining_example(record, MAX_SEQ, MAX_PRED)
        assert {k: v.dtype for k, v in f.items()} == {
            "input_ids": tf.int32, "input_mask": tf.int32, "segment_ids": tf.int32,
            "masked_lm_positions": tf.int32, "masked_lm_ids": tf.int32,
            "masked_lm_weights": tf.float32, "next_sentence_labels": tf.int32,
        }
        n, k = len(inst.tokens), len(inst.masked_lm_positions)
        assert f["input_ids"].numpy().tolist() == inst.tokens + [0] * (MAX_SEQ - n)
        assert f["input_mask"].numpy().tolist() == [1] * n + [0] * (MAX_SEQ - n)
        assert f["segment_ids"].numpy().tolist() == inst.segment_ids + [0] * (MAX_SEQ - n)
        assert f["masked_lm_positions"].numpy().tolist() == inst.masked_lm_positions + [0] * (MAX_PRED - k)
        assert f["masked_lm_ids"].numpy().tolist() == inst.masked_lm_labels + [0] * (MAX_PRED - k)
        assert f["masked_lm_weights"].numpy().tolist() == [1.0] * k + [0.0] * (MAX_PRED - k)
        assert f["next_sentence_labels"].numpy().tolist() == [int(inst.is_random_next)]
    batch = pd.parse_pretraining_example(tf.constant(records[0]), MAX_SEQ, MAX_PRED)
    assert batch["input_ids"].shape == (len(records[0]), MAX_SEQ)


def test_errors_name_the_flag_or_file(files, tmp_path):
    text_file, vocab_file = files
    with pytest.raises(ValueError, match="max_seq_length"):
        pd.create_pretraining_data(text_file, str(tmp_path / "o"), vocab_file, max_seq_length=4)
    with pytest.raises(ValueError, match="max_predictions_per_seq=30 is more than fits"):
        pd.create_pretraining_data(text_file, str(tmp_path / "o"), vocab_file, max_seq_length=32,
                                   max_predictions_per_seq=30)
    with pytest.raises(ValueError, match="masked_lm_prob"):
        pd.create_pretraining_data(text_file, str(tmp_path / "o"), vocab_file, masked_lm_prob=0.0)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n  \n")
    with pytest.raises(ValueError, match="no text"):
        pd.create_pretraining_data(str(empty), str(tmp_path / "o"), vocab_file)
    assert not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match="nope.txt"):
        pd.create_pretraining_data(str(tmp_path / "nope.txt"), str(tmp_path / "o"), vocab_file)
    with pytest.raises(ValueError, match="missing_dir"):
        pd.create_pretraining_data(
            text_file, str(tmp_path / "missing_dir" / "o"), vocab_file, dupe_factor=1
        )


@pytest.mark.skipif(not os.path.exists(GRIMM), reason="shared data absent")
def test_cli_on_grimm(tmp_path):
    with open(GRIMM, encoding="utf-8-sig") as f:
        lines = [next(f) for _ in range(300)]
    text_file = tmp_path / "grimm.txt"
    text_file.write_text("".join(lines), encoding="utf-8")
    vocab_file = str(tmp_path / "vocab.txt")
    vocabulary.build_vocabulary_file(str(text_file), vocab_file, 400, num_unused=5)
    cls_id = vocabulary_lines(vocab_file).index("[CLS]")
    outputs = [str(tmp_path / f"out-{i}.tfrecord") for i in range(2)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    result = subprocess.run(
        [sys.executable, "-m", "keras_bert.trainers.cli", "create-pretraining-data",
         f"--input_file={text_file}", f"--output_file={','.join(outputs)}",
         f"--vocab_file={vocab_file}", "--max_seq_length=64", "--max_predictions_per_seq=10",
         "--dupe_factor=2", "--do_whole_word_mask"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "examples" in result.stdout
    total = 0
    for path in outputs:
        for record in tf.data.TFRecordDataset(path):
            f = pd.parse_pretraining_example(record, 64, 10)
            assert f["input_ids"].numpy()[0] == cls_id
            assert f["input_mask"].numpy().sum() <= 64
            total += 1
    assert total > 10


# Plain paragraphs (input_format="paragraphs").

WIKITEXT = os.path.join(REPO, "..", "shared", "data", "pretrain", "wikitext2-valid.txt")


def wikitext_lines(n=300):
    with open(WIKITEXT, encoding="utf-8") as f:
        return [next(f) for _ in range(n)]


def split_documents(items):
    documents = [[]]
    for item in items:
        if item is None:
            documents.append([])
        else:
            documents[-1].append(item)
    return [d for d in documents if d]


@pytest.mark.parametrize("paragraph, sentences", [
    ("One. Two! Three? four. 5 is a number.", ["One.", "Two!", "Three? four.", "5 is a number."]),
    ('He said "Stop." Then he left... (Really.) [Yes.] "Quoted" too.',
     ['He said "Stop."', "Then he left...", "(Really.)", "[Yes.]", '"Quoted" too.']),
    ("Mr. Smith met Dr. Jones at St. Paul's. Mrs. Brown, Prof. Green etc. Came.",
     ["Mr. Smith met Dr. Jones at St. Paul's.", "Mrs. Brown, Prof. Green etc. Came."]),
    ("Use e.g. This or i.e. That. J. R. R. Tolkien wrote it. The U.S. Army came.",
     ["Use e.g. This or i.e. That.", "J. R. R. Tolkien wrote it.", "The U.S. Army came."]),
    ("Version 2.0 is out.It has 3.5 times more. Done", ["Version 2.0 is out.It has 3.5 times more.", "Done"]),
    ("A sea . It is blue , H. gammarus . In life ?", ["A sea .", "It is blue , H. gammarus .", "In life ?"]),
    ("  no end  ", ["no end"]),
    ("", []),
])
def test_split_sentences(paragraph, sentences):
    assert pd.split_sentences(paragraph) == sentences


def test_heading_level():
    assert pd.heading_level(" = Homarus gammarus = \n") == 1
    assert pd.heading_level(" = M @-@ 82 ( Michigan highway ) = ") == 1
    assert pd.heading_level(" = = Life cycle = = ") == 2
    assert pd.heading_level(" = = = Previous designation = = = ") == 3
    for line in ("a = b = c", "= x", " = = ", "x = 1 =", " = Title = = "):
        assert pd.heading_level(line) == 0, line


def test_document_sentences_formats():
    lines = ["First one. Second one.\n", "Third.\n", "\n", " = Title = \n", "\n",
             "Four. Five.\n", " = = Part = = \n", "\n", "Six.\n", " = Next = \n", "Seven.\n"]
    # The original format: a line is a sentence, headings are text.
    assert split_documents(pd.document_sentences(lines)) == [
        ["First one. Second one.", "Third."], ["= Title ="], ["Four. Five.", "= = Part = ="],
        ["Six.", "= Next =", "Seven."],
    ]
    assert split_documents(pd.document_sentences(lines, "paragraphs")) == [
        ["First one.", "Second one.", "Third."], ["Four.", "Five.", "Six."], ["Seven."],
    ]
    plain = ["Ab. Cd.\n", "Ef.\n", "\n", "\n", "Gh. Ij.\n"]
    assert split_documents(pd.document_sentences(plain, "paragraphs")) == [
        ["Ab.", "Cd.", "Ef."], ["Gh.", "Ij."],
    ]
    with pytest.raises(ValueError, match="input_format"):
        list(pd.document_sentences(plain, "words"))


@pytest.mark.skipif(not os.path.exists(WIKITEXT), reason="shared data absent")
def test_paragraphs_on_wikitext():
    lines = wikitext_lines()
    titles = [line for line in lines if pd.heading_level(line) == 1]
    assert len(titles) >= 5
    documents = split_documents(pd.document_sentences(lines, "paragraphs"))
    assert len(documents) == len(titles)  # One article, one document.
    assert documents[0][:3] == [
        "Homarus gammarus , known as the European lobster or common lobster , is a species of "
        "<unk> lobster from the eastern Atlantic Ocean , Mediterranean Sea and parts of the Black Sea .",
        "It is closely related to the American lobster , H. americanus .",
        "It may grow to a length of 60 cm ( 24 in ) and a mass of 6 kilograms ( 13 lb ) , and "
        "bears a conspicuous pair of claws .",
    ]
    sentences = [s for d in documents for s in d]
    assert not any(s.startswith("=") or s.endswith("=") for s in sentences)
    # Nothing is lost: the sentences of each paragraph put together are the paragraph.
    paragraphs = [line.strip() for line in lines if line.strip() and not pd.heading_level(line)]
    assert " ".join(sentences) == " ".join(paragraphs)
    assert len(sentences) > 3 * len(paragraphs)
    ends = sum(s.endswith((".", "!", "?", '"', ")")) for s in sentences)
    assert ends / len(sentences) > 0.95
    lengths = sorted(len(s.split()) for s in sentences)
    assert 10 < lengths[len(lengths) // 2] < 40  # Median sentence length in words.


@pytest.mark.slow  # ~13 s of real data; test_cli_on_grimm stays in the default run.
@pytest.mark.skipif(not os.path.exists(WIKITEXT), reason="shared data absent")
def test_cli_paragraphs_on_wikitext(tmp_path):
    lines = wikitext_lines()
    text_file = tmp_path / "wiki.txt"
    text_file.write_text("".join(lines), encoding="utf-8")
    vocab_file = str(tmp_path / "vocab.txt")
    vocabulary.build_vocabulary_file(str(text_file), vocab_file, 400, num_unused=5, num_iterations=1)
    output = str(tmp_path / "wiki.tfrecord")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    command = [sys.executable, "-m", "keras_bert.trainers.cli", "create-pretraining-data",
               f"--input_file={text_file}", f"--output_file={output}", f"--vocab_file={vocab_file}",
               "--max_seq_length=64", "--max_predictions_per_seq=10", "--dupe_factor=1"]
    result = subprocess.run(command + ["--input_format=paragraphs"], capture_output=True, text=True,
                            cwd=REPO, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    titles = sum(pd.heading_level(line) == 1 for line in lines)
    assert f"from {titles} documents" in result.stdout
    records = list(tf.data.TFRecordDataset(output))
    assert len(records) > 50
    f = pd.parse_pretraining_example(records[0], 64, 10)
    assert f["input_mask"].numpy().sum() > 10
    bad = subprocess.run(command + ["--input_format=lines"], capture_output=True, text=True,
                         cwd=REPO, env=env, timeout=300)
    assert bad.returncode != 0 and "input_format" in bad.stderr


def test_tiny_corpora_one_sentence_documents_and_long_lines(files, tmp_path):
    """Edge cases the original handles: one document, one-sentence documents
    (B then comes from a random document), a line longer than max_seq_length
    (truncated) -- all give well-formed instances."""
    text_file, vocab_file = files
    long_line = " ".join(["the king went to the castle"] * 30)
    corpus = tmp_path / "edge.txt"
    corpus.write_text("Frog.\n\nWolf said.\n\n" + long_line + "\nThe queen saw gold.\n")
    out = tmp_path / "edge.tfrecord"
    num_documents, num_examples, *_ = pd.create_pretraining_data(
        str(corpus), str(out), vocab_file, max_seq_length=MAX_SEQ, max_predictions_per_seq=MAX_PRED,
        dupe_factor=2,
    )
    assert num_documents == 3 and num_examples > 0
    for record in tf.data.TFRecordDataset(str(out)):
        f = pd.parse_pretraining_example(record, MAX_SEQ, MAX_PRED)
        ids = f["input_ids"].numpy()
        assert ids[0] == CLS and (ids == SEP).sum() == 2
        assert f["input_mask"].numpy().sum() <= MAX_SEQ
    single = tmp_path / "single.txt"
    single.write_text("The frog went to the castle and the king saw gold.\n")
    assert pd.create_pretraining_data(str(single), str(tmp_path / "single.tfrecord"), vocab_file,
                                      max_seq_length=MAX_SEQ, max_predictions_per_seq=MAX_PRED,
                                      dupe_factor=1)[0] == 1


# Packed rows (create-pretraining-data --pack).


def unpacked_instances(paths, seq, pred):
    """(tokens, segment ids, masked positions, masked ids, random next) of each record of the original format."""
    out = []
    for path in paths:
        for record in tf.data.TFRecordDataset(path):
            f = {k: v.numpy() for k, v in pd.parse_pretraining_example(record, seq, pred).items()}
            n, real = int(f["input_mask"].sum()), f["masked_lm_weights"] > 0
            out.append((tuple(f["input_ids"][:n]), tuple(f["segment_ids"][:n]),
                        tuple(f["masked_lm_positions"][real]), tuple(f["masked_lm_ids"][real]),
                        int(f["next_sentence_labels"][0])))
    return out


def packed_sequences(paths, seq, pred, per_row):
    """The same tuples, cut out of packed rows; and the number of rows and sequences per row."""
    out, sizes = [], []
    for path in paths:
        for record in tf.data.TFRecordDataset(path):
            f = {k: v.numpy() for k, v in pd.parse_pretraining_example(record, seq, pred, per_row).items()}
            mask, real = f["input_mask"], f["masked_lm_weights"] > 0
            positions, labels = f["masked_lm_positions"][real], f["masked_lm_ids"][real]
            count = int(f["sequence_mask"].sum())
            assert f["sequence_mask"].tolist() == [1] * count + [0] * (per_row - count)
            assert set(mask[mask > 0]) == set(range(1, count + 1)) and not mask[int((mask > 0).sum()):].any()
            assert (f["next_sentence_labels"][count:] == 0).all()
            sizes.append(count)
            for k in range(1, count + 1):
                span = np.flatnonzero(mask == k)
                start, end = span[0], span[-1] + 1
                assert len(span) == end - start  # Contiguous.
                mine = (positions >= start) & (positions < end)
                out.append((tuple(f["input_ids"][start:end]), tuple(f["segment_ids"][start:end]),
                            tuple(positions[mine] - start), tuple(labels[mine]),
                            int(f["next_sentence_labels"][k - 1])))
    return out, sizes


def test_pack_writes_every_instance_once_in_packed_rows(files, tmp_path):
    """The packed files hold exactly the instances of the unpacked files made
    with the same seed (each once: count in = count out), each as it was,
    its masked LM targets moved into the row; fewer records, less padding."""
    text_file, vocab_file = files
    seq, pred, per_row = 64, 6, 4
    common = dict(max_seq_length=seq, max_predictions_per_seq=pred, dupe_factor=3, short_seq_prob=0.5,
                  random_seed=3)
    plain_paths = [str(tmp_path / f"plain-{i}.tfrecord") for i in range(2)]
    plain = pd.create_pretraining_data(text_file, ",".join(plain_paths), vocab_file, **common)
    packed_paths = [str(tmp_path / f"packed-{i}.tfrecord") for i in range(2)]
    created = pd.create_pretraining_data(text_file, ",".join(packed_paths), vocab_file, pack=True,
                                         max_sequences_per_row=per_row, **common)
    assert created.max_predictions == pd.max_predictions_per_row(seq, per_row, pred, 0.15) == 13  # 9 + 4.
    expected = unpacked_instances(plain_paths, seq, pred)
    got, sizes = packed_sequences(packed_paths, seq, created.max_predictions, per_row)
    assert len(got) == len(expected) == created.examples == plain.examples
    assert sorted(got) == sorted(expected)
    assert created.records == len(sizes) < plain.records and max(sizes) >= 2
    tokens = sum(len(instance[0]) for instance in expected)
    assert created.efficiency == pytest.approx(tokens / (created.records * seq))
    assert created.efficiency > tokens / (plain.records * seq) + 0.1
    # The original reader's parser refuses them (next_sentence_labels has P values).
    with pytest.raises(tf.errors.InvalidArgumentError):
        pd.parse_pretraining_example(next(iter(tf.data.TFRecordDataset(packed_paths[0]))), seq, created.max_predictions)


def test_max_predictions_per_row_always_holds_a_row():
    """The bound against the original's count: rows of the most instances
    the length allows, each with its number of predictions."""
    for seq, per_row, pred, prob in ((128, 4, 20, 0.15), (64, 8, 10, 0.15), (32, 3, 5, 0.5), (512, 4, 80, 0.15)):
        bound = pd.max_predictions_per_row(seq, per_row, pred, prob)
        for lengths in itertools.product(range(5, seq + 1), repeat=2) if per_row >= 2 else []:
            if sum(lengths) > seq:
                continue
            rest = [5] * min(per_row - 2, (seq - sum(lengths)) // 5)
            count = sum(min(pred, max(1, int(round(n * prob)))) for n in list(lengths) + rest)
            assert count <= bound, (seq, per_row, lengths, count, bound)
    assert pd.max_predictions_per_row(128, 4, 20, 0.15) == 23
    assert pd.max_predictions_per_row(128, 1, 20, 0.15) == 20


def test_pack_refuses_a_bad_max_sequences_per_row_before_any_work(files, tmp_path):
    text_file, vocab_file = files
    for bad in (0, -2):
        with pytest.raises(ValueError, match=f"max_sequences_per_row must be an int >= 1, got {bad}"):
            pd.create_pretraining_data("/nonexistent/*.txt", str(tmp_path / "o"), vocab_file, pack=True,
                                       max_sequences_per_row=bad)
    assert not os.listdir(tmp_path)


@pytest.mark.slow  # A CLI subprocess; the packing itself is tested in-process above.
def test_cli_pack_reports_the_packing(files, tmp_path):
    text_file, vocab_file = files
    out = tmp_path / "packed.tfrecord"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    result = subprocess.run(
        [sys.executable, "-m", "keras_bert.trainers.cli", "create-pretraining-data", f"--input_file={text_file}",
         f"--output_file={out}", f"--vocab_file={vocab_file}", "--max_seq_length=64", "--max_predictions_per_seq=6",
         "--dupe_factor=2", "--short_seq_prob=0.5", "--pack", "--max_sequences_per_row=3"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"in \d+ packed rows \(\d+\.\d% of the tokens real; 12 masked LM entries per row\)",
                     result.stdout), result.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "keras_bert.trainers.cli", "create-pretraining-data", f"--input_file={text_file}",
         f"--output_file={out}", f"--vocab_file={vocab_file}", "--pack", "--max_sequences_per_row=0"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )
    assert bad.returncode != 0 and "max_sequences_per_row must be an int >= 1, got 0" in bad.stderr
