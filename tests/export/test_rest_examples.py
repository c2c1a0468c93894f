"""The documented REST requests: each curl body of the export docs, run through the
loaded export's signature the way TF Serving's REST API maps it."""

import os
import re
import shlex

import numpy as np
import pytest

from tests.export import rest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# README.md's Export section.
DOCS = ("README.md",)
URL = re.compile(r"^https?://[^/]+/v1/models/(?P<model>[^/:]+)(?:/versions/\d+)?:(?P<verb>predict|classify|regress)$")


def documented_requests():
    """(file, model name, verb, body) of every `curl` command in the docs."""
    requests = []
    for doc in DOCS:
        path = os.path.join(REPO, doc)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read().replace("\\\n", " ")
        for line in text.splitlines():
            line = line.strip()
            if not line.startswith("curl "):
                continue
            args = shlex.split(line)
            url = next(a for a in args if URL.match(a))
            body = args[args.index("-d") + 1]
            match = URL.match(url)
            requests.append((doc, match["model"], match["verb"], body))
    return requests


REQUESTS = documented_requests()


def test_docs_have_the_classification_examples():
    kinds = {(model, verb, '"instances"' in body, '"inputs"' in body) for _, model, verb, body in REQUESTS}
    assert ("sst2", "predict", True, False) in kinds  # Row format.
    assert ("sst2", "predict", False, True) in kinds  # Columnar format.
    assert any(verb == "classify" for _, _, verb, _ in REQUESTS)


@pytest.mark.parametrize("doc,model,verb,body", REQUESTS, ids=[f"{d}:{m}:{v}:{i}" for i, (d, m, v, _) in
                                                               enumerate(REQUESTS)])
def test_documented_request(exports, doc, model, verb, body):
    exported = exports.get(model)
    reply = rest.rest_call(exported.loaded, verb, body)
    if verb == "predict" and '"instances"' in body:
        predictions = reply["predictions"]
        assert isinstance(predictions, list) and predictions
        for prediction in predictions:
            values = prediction.values() if isinstance(prediction, dict) else [prediction]
            for value in values:
                if isinstance(value, float):
                    assert np.isfinite(value)
    elif verb == "predict":
        assert reply["outputs"]
    elif verb == "classify":
        for result in reply["results"]:
            labels = [label for label, _ in result]
            assert labels == exported.settings["labels"]
            assert abs(sum(score for _, score in result) - 1.0) < 1e-5
    else:
        assert all(np.isfinite(value) for value in reply["results"])
    if exported.task == "classification" and verb == "predict":
        rows = reply["predictions"] if "predictions" in reply else [
            {"labels": label} for label in reply["outputs"]["labels"]]
        assert all(row["labels"] in exported.settings["labels"] for row in rows)


def test_rest_formats_agree(exports):
    """Row and columnar formats, and the classify API, give the same numbers."""
    loaded = exports.get("sst2").loaded
    texts = ["a gripping, funny movie", "the plot is a mess"]
    rows = rest.rest_call(loaded, "predict", {"instances": texts})["predictions"]
    columns = rest.rest_call(loaded, "predict", {"inputs": {"text": texts}})["outputs"]
    objects = rest.rest_call(loaded, "predict", {"instances": [{"text": t} for t in texts]})["predictions"]
    classify = rest.rest_call(loaded, "classify", {"signature_name": "serve_examples",
                                                   "examples": [{"text": t} for t in texts]})["results"]
    for i in range(len(texts)):
        assert rows[i] == objects[i]
        assert rows[i]["labels"] == columns["labels"][i]
        np.testing.assert_allclose(rows[i]["probabilities"], columns["probabilities"][i], atol=1e-6)
        np.testing.assert_allclose([s for _, s in classify[i]], rows[i]["probabilities"], atol=1e-6)
    with pytest.raises(ValueError, match="exactly one of"):
        rest.rest_call(loaded, "predict", {"instances": texts, "inputs": texts})
