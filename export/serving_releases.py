"""The TF Serving releases an export is audited for, and the ops each can run.

TF Serving's model server links TensorFlow (core ops) and
`@org_tensorflow_text//tensorflow_text:ops_lib` (SUPPORTED_TENSORFLOW_OPS
in tensorflow_serving/model_servers/BUILD, the same at tags 2.13.0, 2.19.1
and 2.20.0). Which tensorflow-text each release builds is the
`org_tensorflow_text` http_archive of tensorflow_serving/workspace.bzl:

  * tags 2.13.0, 2.13.1, 2.14.0, 2.14.1, 2.15.0-rc0, 2.15.1, 2.16.1, 2.17.0,
    2.17.1, 2.18.0, 2.18.1, 2.19.0, 2.19.1: `text-2.12.1`
    (github.com/tensorflow/text/archive/v2.12.1.zip, patched by
    third_party/tf_text/tftext.patch: C++17 `if constexpr` and Bazel deps
    only, no op added or removed);
  * tag 2.20.0: `text-2.20.0`.

(The fetched tensorflow/serving snapshot has no 2.15.0 or 2.16.0 tag.)

`TEXT_OPS`: the ops `ops_lib` registers at tensorflow/text tags v2.12.1 and
v2.20.0: the `<name>_cc` deps of `ops_lib` in tensorflow_text/BUILD, the
`cc_op_defs` files of their `py_tf_text_library` rules
(tensorflow_text/core/ops/*.cc), and in those the `REGISTER_OP("...")` names
and, for `REGISTER_TF_OP_SHIM(Kernel)`, the `kOpName` of the kernel's op
class (tensorflow_text/core/kernels/*_kernel_template.h).
`tools/tf_text_ops_lib.py GIT_DIR TAG` redoes this. 2.12.1's `ops_lib` lacks
trimmer_ops_cc (`TFText>RoundRobinTrim`, `TFText>RoundRobinGenerateMasks`)
and utf8_binarize_op_cc (`TFText>Utf8Binarize`); the ops our exports use
(NormalizeUTF8, RegexSplitWithOffsets, FastWordpieceTokenizeWithOffsets) are
in both, their OpDefs unchanged between the tags and the FastWordpiece model
schema (fast_wordpiece_tokenizer_model.fbs) too.

Core ops: release 2.20 -- those of the installed TensorFlow 2.20
(`op_audit.core_ops`). Releases 2.13-2.19 -- `tensorflow_2_13_ops.OPS`, the
ops TensorFlow 2.13 registers, and an attr of `NEWER_ATTRS` on a node is
refused (see that module for where they came from). For 2.14-2.19 that is a
lower bound (the TensorFlow each builds was not read): TensorFlow keeps
registered ops and attrs across releases, so what passes for 2.13 loads on
them; something added in 2.14-2.19 is refused although one of them may have
it.
"""

import dataclasses

from keras_bert.export import tensorflow_2_13_ops

# Registered by tensorflow_text:ops_lib at tensorflow/text tag v2.12.1.
TEXT_OPS_2_12_1 = frozenset({
    "CaseFoldUTF8", "ConstrainedSequence", "FastBertNormalize", "FastWordpieceTokenizeWithOffsets",
    "FindSourceOffsets", "MaxSpanningTree", "NormalizeUTF8", "NormalizeUTF8WithOffsetsMap", "PhraseTokenize",
    "RegexSplitWithOffsets", "RougeL", "SentenceFragments", "SentenceFragmentsV2", "SentencepieceDetokenizeOp",
    "SentencepieceIdToStringOp", "SentencepieceOp", "SentencepieceStringToIdOp", "SentencepieceTokenizeOp",
    "SentencepieceTokenizeWithOffsetsOp", "SentencepieceVocabSizeOp", "SplitMergeTokenizeWithOffsets",
    "TFText>BoiseTagsToOffsets", "TFText>ByteSplitByOffsets", "TFText>ByteSplitWithOffsets",
    "TFText>FastSentencepieceDetokenize", "TFText>FastSentencepieceTokenize", "TFText>FastWordpieceDetokenize",
    "TFText>NgramsStringJoin", "TFText>OffsetsToBoiseTags", "TFText>PhraseDetokenize",
    "TFText>WhitespaceTokenizeWithOffsetsV2", "TokenizerFromLogits", "UnicodeScriptTokenizeWithOffsets",
    "WhitespaceTokenizeWithOffsets", "WordpieceTokenizeWithOffsets",
})
# At tag v2.20.0: the same plus trimmer_ops_cc and utf8_binarize_op_cc.
TEXT_OPS_2_20_0 = TEXT_OPS_2_12_1 | {
    "TFText>RoundRobinGenerateMasks", "TFText>RoundRobinTrim", "TFText>Utf8Binarize",
}
TEXT_OPS = {"2.12.1": TEXT_OPS_2_12_1, "2.20.0": TEXT_OPS_2_20_0}


@dataclasses.dataclass(frozen=True)
class ServingRelease:
    """What one TF Serving release line can run (module docstring).

    Attributes:
      name: the release line, "2.13" ... "2.20".
      tensorflow_text: the tensorflow-text version it builds ("2.12.1").
      text_ops: frozenset of the tensorflow-text op names it links.
      core_ops: frozenset of TensorFlow's op names, or None: the installed
        TensorFlow's (`op_audit.core_ops()`).
      newer_attrs: dict `{op: frozenset of attr names}` the release's
        TensorFlow does not know (a node setting one fails to load).
      core_source: where `core_ops` came from, for messages.
    """

    name: str
    tensorflow_text: str
    text_ops: frozenset
    core_ops: frozenset = None
    newer_attrs: dict = dataclasses.field(default_factory=dict)
    core_source: str = "the installed TensorFlow"


def _before_2_20(name):
    return ServingRelease(
        name=name, tensorflow_text="2.12.1", text_ops=TEXT_OPS_2_12_1, core_ops=tensorflow_2_13_ops.OPS,
        newer_attrs=tensorflow_2_13_ops.NEWER_ATTRS,
        core_source="TensorFlow 2.13's ops" + ("" if name == "2.13" else " (a lower bound for " + name + ")"),
    )


RELEASES = {name: _before_2_20(name) for name in ("2.13", "2.14", "2.15", "2.16", "2.17", "2.18", "2.19")}
RELEASES["2.20"] = ServingRelease(name="2.20", tensorflow_text="2.20.0", text_ops=TEXT_OPS_2_20_0)

# The oldest release every export must load on: the audit's default target.
OLDEST = "2.13"
NEWEST = "2.20"


def get_release(target):
    """The `ServingRelease` of a release line.

    Args:
      target: "2.13" ... "2.20"; a full version ("2.13.1") names its line.

    Raises:
      ValueError: naming `target` and the releases known.
    """
    name = ".".join(str(target).split(".")[:2])
    if name not in RELEASES:
        raise ValueError(
            f"target={target!r}: not a TF Serving release the op audit knows; known: {', '.join(RELEASES)} "
            f"(older releases are not supported)"
        )
    return RELEASES[name]
