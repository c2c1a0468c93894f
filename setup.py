"""keras_bert: BERT for TensorFlow 2 / Keras 3, from pretraining to TF Serving.

Distributed as `bert-keras-tf`: the PyPI name `keras-bert` belongs to an
unrelated older project (which also imports as `keras_bert`; do not install
both).
"""

import setuptools

# The stack verified together on Python 3.11 (see README).
INSTALL_REQUIRES = [
    "tensorflow==2.20.0",
    "tensorflow-text==2.20.1",
    "keras>=3.15,<3.16",
    "keras-nlp==0.31.1",
    "tf-models-official==2.20.0",
    "absl-py>=1.4",
    "numpy>=1.26",
    "safetensors>=0.4",
    # TF Serving's request protos (PredictionLog ...) for the warmup records
    # of export/; it needs only tensorflow, grpcio and protobuf.
    "tensorflow-serving-api==2.20.0",
    # Entity-level (CoNLL) precision/recall/F1 in trainers/tasks/metrics.py.
    "seqeval>=1.2.2",
    # TF 2.20 accepts protobuf>=5.28; googleapis-common-protos (via
    # tf-models-official) needs >=6.33.5. 6.33.6 is the version tested.
    "protobuf==6.33.6",
]

# `pip install "bert-keras-tf[plots]"`: pretrain and finetune draw their
# training curves into output_dir/curves.png (trainers/engine/curves.py);
# without it they say so and skip the picture. (tf-models-official pulls in
# matplotlib today; the extra does not rely on that.)
PLOTS_REQUIRES = [
    "matplotlib>=3.7",
]

TEST_REQUIRES = [
    "pytest>=8",
    # Generated adversarial text (tests/reliability/test_adversarial_text.py).
    "hypothesis>=6.100",
    "torch==2.13.0",
    "transformers>=4.40",
    "safetensors>=0.4",
] + PLOTS_REQUIRES  # The tests draw curves.png too.

# The peers benchmarks/ runs beside those of the tests (torch, transformers):
# ONNX Runtime fp32 on the transformers export of our classifier is the
# batch-1 serving latency target (benchmarks/serving.py); onnx is what
# torch.onnx.export writes the model with.
BENCHMARK_REQUIRES = [
    "onnx>=1.16",
    "onnxruntime>=1.17",
]

setuptools.setup(
    name="bert-keras-tf",
    version="0.1.0",
    description="BERT for TensorFlow 2 and Keras 3: pretraining, fine-tuning, TF Serving.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10,<3.13",
    # trainers/ and export/ sit at the repository's top level (the design
    # card's layout) but are installed inside keras_bert: `export` and
    # `trainers` are too generic to own top-level import names (a PyPI
    # package `export` exists; a user's own export.py would shadow ours).
    packages=setuptools.find_packages(include=["keras_bert", "keras_bert.*"])
    + ["keras_bert." + p for p in setuptools.find_packages(include=["trainers", "trainers.*", "export", "export.*"])],
    package_dir={"keras_bert.trainers": "trainers", "keras_bert.export": "export"},
    # The labelled set `keras-bert quickstart` fine-tunes on (MANIFEST.in
    # puts it in the sdist too).
    package_data={"keras_bert.trainers.programs": ["quickstart_data/*.tsv"]},
    install_requires=INSTALL_REQUIRES,
    extras_require={"test": TEST_REQUIRES, "benchmarks": BENCHMARK_REQUIRES, "plots": PLOTS_REQUIRES},
    entry_points={"console_scripts": ["keras-bert=keras_bert.trainers.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
