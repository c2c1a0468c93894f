"""Training curves: a run's TensorBoard scalars read back and drawn into one PNG.

`Trainer` writes scalars to `output_dir/train` at every log step, and
(`Trainer.write_scalars`) held-out or dev scores to `output_dir/eval`. At the
end of a run `keras-bert pretrain` and `finetune` draw them into
`output_dir/curves.png`, so the curves can be looked at without TensorBoard:

- `read_scalars(output_dir)` -> `{"train": {tag: [(step, value), ...]}, "eval": {...}}`.
- `write_curves(output_dir, quantities=None, title=None, eval_label="held-out")`
  -> the PNG's path, or None when it was not drawn.

matplotlib is optional (the `plots` extra) and imported only to draw, with
the Agg canvas on a `Figure` of its own (pyplot's global backend and figures
are left alone). Drawing never fails a run: a missing matplotlib or any error
is one printed line and `None`.
"""

import io as stdio
import math

import numpy as np
import tensorflow as tf

from keras_bert import io

CURVES_FILE = "curves.png"
RUNS = ("train", "eval")  # The summary directories of output_dir that read_scalars reads.
PLOTS_HINT = "pip install 'bert-keras-tf[plots]'"

# Words spelled otherwise than lower case in a panel's label.
_WORDS = {"lm": "LM", "mcc": "MCC", "f1": "F1"}


def read_scalars(output_dir, runs=RUNS):
    """The scalars of the TensorBoard event files in `output_dir/RUN/`.

    Reads every `events.out.tfevents.*` file of each run directory (a resumed
    run adds a file). Values written by TF2's `tf.summary.scalar` (a tensor)
    and TF1's `simple_value` are both read; other summaries are skipped. A
    step written twice (a resumed run repeating a step) keeps the newest
    value, by the event's wall time. A truncated event file (a run killed
    mid-write) gives the records before the damage.

    Args:
      output_dir: str, a run's output directory (local or any gfile path).
      runs: the subdirectories to read, default ("train", "eval").

    Returns:
      dict: run -> {tag: [(step, value), ...] sorted by step}, with int steps
      and float values; every run in `runs` is a key (an empty dict when it
      holds no scalars or does not exist).
    """
    scalars = {}
    for run in runs:
        newest = {}  # tag -> {step: ((wall_time, file, record), value)}
        files = sorted(tf.io.gfile.glob(io.join(output_dir, run, "events.out.tfevents.*")))
        for file_index, path in enumerate(files):
            for record, event in enumerate(_events(path)):
                for value in event.summary.value:
                    number = _scalar(value)
                    if number is None:
                        continue
                    order = (event.wall_time, file_index, record)
                    steps = newest.setdefault(value.tag, {})
                    if event.step not in steps or steps[event.step][0] <= order:
                        steps[event.step] = (order, number)
        scalars[run] = {tag: [(int(step), steps[step][1]) for step in sorted(steps)] for tag, steps in newest.items()}
    return scalars


def _events(path):
    """The events of one file, up to a damaged or truncated record. (What
    `tf.compat.v1.train.summary_iterator` does, without its deprecation warning.)"""
    try:
        for record in tf.data.TFRecordDataset(path):
            yield tf.compat.v1.Event.FromString(record.numpy())
    except tf.errors.DataLossError:
        return


def _scalar(value):
    """A `Summary.Value`'s number, or None when it is not a scalar."""
    if value.HasField("simple_value"):
        return float(value.simple_value)
    if value.HasField("tensor"):
        array = tf.make_ndarray(value.tensor)
        if array.size == 1 and (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            return float(array.reshape(()))
    return None


def default_quantities(scalars):
    """The panels `write_curves` draws when not told: the training loss, the
    learning rate, then every quantity of `eval/` (sorted), e.g. each dev
    metric of a fine-tuning run."""
    return ["loss", "learning_rate"] + sorted(t for t in scalars.get("eval", {}) if t not in ("loss", "learning_rate"))


def label(tag):
    """A tag as a panel's label: "masked_lm_accuracy" -> "masked LM accuracy"."""
    return " ".join(_WORDS.get(word, word) for word in tag.split("_"))


def write_curves(output_dir, quantities=None, title=None, eval_label="held-out", path=None):
    """Draws the run's curves into `output_dir/curves.png` (or `path`; written atomically).

    One figure, a panel per quantity (a TensorBoard tag), each with the
    training values of `train/` as a line and those of `eval/` as markers on
    the same step axis; labelled axes, a legend per panel. A quantity logged
    in neither directory gets no panel.

    Args:
      output_dir: str, the run's output directory (local or any gfile path).
      quantities: list of tags, one panel each in this order; None:
        `default_quantities` (loss, learning rate, every eval tag).
      title: str or None, the figure's title.
      eval_label: str, the legend's name for the `eval/` markers ("held-out",
        "dev" ...).
      path: str or None, where the PNG goes (default: output_dir/curves.png).

    Returns:
      str, the PNG's path; None when it was not drawn (matplotlib missing,
      nothing logged, or an error), which the printed line explains. Never
      raises for drawing problems: a finished run must not fail on its
      picture.
    """
    path = path or io.join(output_dir, CURVES_FILE)
    try:
        import matplotlib  # noqa: F401 (optional: the `plots` extra)
    except ImportError:
        print(f"{CURVES_FILE} not drawn: matplotlib is not installed ({PLOTS_HINT} draws the curves)", flush=True)
        return None
    try:
        scalars = read_scalars(output_dir)
        if quantities is None:
            quantities = default_quantities(scalars)
        panels = [(tag, scalars["train"].get(tag, []), scalars["eval"].get(tag, [])) for tag in quantities]
        panels = [panel for panel in panels if panel[1] or panel[2]]
        if not panels:
            print(f"{CURVES_FILE} not drawn: no scalars of {', '.join(quantities)} in {output_dir}/train or "
                  "eval", flush=True)
            return None
        png = _draw(panels, title, eval_label)
        with io.atomic_write(path, "wb") as f:
            f.write(png)
    except Exception as e:  # noqa: BLE001 (whatever goes wrong, the run has finished)
        print(f"warning: {path} not drawn ({type(e).__name__}: {e})", flush=True)
        return None
    return path


def _draw(panels, title, eval_label):
    """The PNG bytes of `panels`: [(tag, train [(step, value)], eval [(step, value)])]."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    columns = 1 if len(panels) == 1 else 2
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(5.5 * columns, 3.4 * rows + (0.4 if title else 0.0)), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    last_step = max(step for _, line, points in panels for step, _ in line + points)
    for ax, (tag, line, points) in zip(axes, panels):
        if line:
            ax.plot(*zip(*line), color="C0", label="training", marker="." if len(line) == 1 else None)
        if points:
            ax.plot(*zip(*points), color="C1", linestyle="none", marker="o", label=eval_label)
        ax.set_title(label(tag))
        ax.set_xlabel("step")
        ax.set_ylabel(label(tag))
        ax.set_xlim(0, max(1, last_step) * 1.03)
        ax.grid(alpha=0.3)
        ax.legend()
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    if title:
        figure.suptitle(title)
    buffer = stdio.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
