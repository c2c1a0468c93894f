"""A pretraining shard whose damage the start-up scan cannot see.

The scan reads record headers only (reading every byte of a large corpus at
each start would cost minutes); a flipped byte inside a record's data is met
by the input pipeline mid-training. It must then be an error naming the
shard and the byte offset, with the checkpoints written before it intact.
"""

import struct

import pytest

from keras_bert.trainers.programs import pretraining
from tests.reliability.record import record
from tests.trainers.programs.test_pretraining import SEQ
from tests.trainers.programs.test_pretraining import corpus  # noqa: F401 (fixture)
from tests.trainers.programs.test_pretraining import options


def test_damaged_record_body_met_in_training_is_named(corpus, tmp_path):  # noqa: F811
    """The start-up scan checks record headers only; a flipped byte inside a
    record's data is met by the input pipeline mid-training, and is then an
    error naming the shard and the offset, after intact checkpoints."""
    data = bytearray(open(corpus["files"][SEQ].replace("*", "0"), "rb").read())
    offsets, offset = [], 0
    while offset < len(data):
        offsets.append(offset)
        offset += 12 + struct.unpack("<Q", bytes(data[offset: offset + 8]))[0] + 4
    middle = offsets[len(offsets) // 2]
    length = struct.unpack("<Q", bytes(data[middle: middle + 8]))[0]
    data[middle + 12 + length // 2] ^= 0xFF
    bad = tmp_path / "damaged.tfrecord"
    bad.write_bytes(bytes(data))
    out = tmp_path / "run"
    steps = 2 * len(offsets) // 8 + 4  # Past the damaged record (batch 8, one pass over the shard).
    with pytest.raises(ValueError, match=r"damaged\.tfrecord: corrupted record at \d+.*ckpt-\d+ are intact"):
        pretraining.run_pretraining(options(corpus, out, input_file=str(bad), num_train_steps=steps,
                                            num_warmup_steps=0, save_checkpoints_steps=2, shuffle_buffer_size=1))
    record("Malformed data files -> CLI", inputs=1, crashes=0,
           detail="a pretraining shard with a damaged record body, met mid-training: named with its offset")
