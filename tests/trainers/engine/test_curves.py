"""`keras_bert.trainers.engine.curves`: TensorBoard scalars read back and drawn into curves.png.

Event files written here with `tf.summary` (TF2, values as tensors) and
`tf.compat.v1.Summary` (TF1, `simple_value`); the programs' own runs are
tested in tests/trainers/programs/test_pretraining.py and test_finetuning.py.
"""

import os
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_bert.trainers.engine import curves

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_scalars(directory, step, **values):
    """One TF2 summary writer's scalars at `step` (a new event file per call, as a resumed run makes)."""
    writer = tf.summary.create_file_writer(str(directory))
    with writer.as_default(step=step):
        for tag, value in values.items():
            tf.summary.scalar(tag, value)
    writer.close()


def assert_drawn_png(path):
    """`path` is a PNG that decodes to a picture with more than a blank background."""
    import matplotlib.image

    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    colours = np.unique(pixels[..., :3].reshape(-1, 3), axis=0)
    assert len(colours) > 10, "a blank image"
    return pixels


@pytest.fixture
def run(tmp_path):
    """An output dir: training scalars at steps 2, 4, 6 and eval scores at 3 and 6."""
    for step in (2, 4, 6):
        write_scalars(tmp_path / "train", step, loss=3.0 - step / 4, learning_rate=1e-3 * step / 6,
                      masked_lm_accuracy=step / 10)
    for step in (3, 6):
        write_scalars(tmp_path / "eval", step, loss=3.2 - step / 4, accuracy=0.5 + step / 20)
    return tmp_path


def test_read_scalars_returns_every_tag_sorted_by_step(run):
    scalars = curves.read_scalars(str(run))
    assert set(scalars) == {"train", "eval"}
    assert set(scalars["train"]) == {"loss", "learning_rate", "masked_lm_accuracy"}
    assert [s for s, _ in scalars["train"]["loss"]] == [2, 4, 6]
    np.testing.assert_allclose([v for _, v in scalars["train"]["loss"]], [2.5, 2.0, 1.5])
    assert scalars["eval"]["accuracy"] == [(3, pytest.approx(0.65)), (6, pytest.approx(0.8))]
    assert all(isinstance(s, int) and isinstance(v, float) for s, v in scalars["eval"]["loss"])


def test_a_repeated_step_keeps_the_newest_value(run):
    """A resumed run writes step 4 again (a newer event file): its value wins; a file
    written out of step order still reads back sorted."""
    write_scalars(run / "train", 4, loss=9.0)
    write_scalars(run / "train", 1, loss=7.0)
    loss = curves.read_scalars(str(run))["train"]["loss"]
    assert loss == [(1, 7.0), (2, 2.5), (4, 9.0), (6, 1.5)]


def test_tf1_simple_values_and_missing_runs(tmp_path):
    with tf.Graph().as_default():  # (TF1's writer refuses eager mode.)
        writer = tf.compat.v1.summary.FileWriter(str(tmp_path / "train"))
        for step in (5, 10):
            value = tf.compat.v1.Summary.Value(tag="loss", simple_value=step)
            writer.add_summary(tf.compat.v1.Summary(value=[value]), step)
        writer.close()
    scalars = curves.read_scalars(str(tmp_path))
    assert scalars == {"train": {"loss": [(5, 5.0), (10, 10.0)]}, "eval": {}}
    assert curves.read_scalars(str(tmp_path / "nothing")) == {"train": {}, "eval": {}}


def test_a_truncated_event_file_gives_the_records_before_the_damage(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / "eval"))
    with writer.as_default():
        for step in (1, 2):
            tf.summary.scalar("loss", float(step), step=step)
    writer.close()
    (path,) = (tmp_path / "eval").iterdir()
    path.write_bytes(path.read_bytes()[:-5])  # Killed while writing step 2.
    assert curves.read_scalars(str(tmp_path))["eval"] == {"loss": [(1, 1.0)]}


def test_write_curves_draws_a_png(run, capsys):
    path = curves.write_curves(str(run), title="a run")
    assert path == os.path.join(str(run), curves.CURVES_FILE)
    # The default panels: loss, learning rate, then each eval tag (accuracy); two columns.
    pixels = assert_drawn_png(path)
    assert pixels.shape[1] > pixels.shape[0]
    assert not [n for n in os.listdir(run) if n != curves.CURVES_FILE and not os.path.isdir(run / n)]  # No temp.
    assert capsys.readouterr().out == ""


def test_quantities_choose_the_panels(run, capsys):
    one = curves.write_curves(str(run), ["masked_lm_accuracy", "not_logged"])
    assert assert_drawn_png(one).shape[1] <= 600  # One panel, one column (two are 1,100 pixels wide).
    assert curves.write_curves(str(run), ["not_logged"]) is None
    assert "curves.png not drawn: no scalars of not_logged" in capsys.readouterr().out
    assert curves.label("masked_lm_accuracy") == "masked LM accuracy"
    assert curves.label("next_sentence_accuracy") == "next sentence accuracy"


def test_without_matplotlib_it_says_how_to_get_the_curves(run, monkeypatch, capsys):
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert curves.write_curves(str(run)) is None
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "not drawn" in out and "[plots]" in out, out
    assert not (run / curves.CURVES_FILE).exists()


def test_a_drawing_error_is_a_warning_not_a_failure(run, monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise RuntimeError("no fonts")

    monkeypatch.setattr(curves, "_draw", fail)
    assert curves.write_curves(str(run)) is None
    out = capsys.readouterr().out
    assert out.startswith("warning: ") and "not drawn (RuntimeError: no fonts)" in out, out
    assert not os.path.exists(run / curves.CURVES_FILE)
