"""Entry point of the py_test targets in //:BUILD: run pytest on one test file.

Bazel runs it from the test's runfiles tree (a mirror of the repo), as

    bazel_pytest_main.py tests/keras_bert/test_config.py [pytest args...]

and it maps Bazel's test protocol onto pytest: the JUnit XML goes to
$XML_OUTPUT_FILE, `bazel test --test_filter=EXPR` becomes `-k EXPR`, and
nothing is written back into the runfiles (no .pytest_cache, no .pyc).
"""

import os
import sys


def main(argv):
    sys.dont_write_bytecode = True
    # Python put this script's directory first on sys.path, symlinks resolved:
    # the source tree's tools/. Drop it, so that only the runfiles tree is
    # importable, as under `python -m pytest`.
    here = os.path.dirname(os.path.realpath(__file__))
    if sys.path and os.path.realpath(sys.path[0] or ".") == here:
        del sys.path[0]
    args = list(argv) + ["-p", "no:cacheprovider"]
    xml_output = os.environ.get("XML_OUTPUT_FILE")
    if xml_output:
        args.append("--junitxml=" + xml_output)
    test_filter = os.environ.get("TESTBRIDGE_TEST_ONLY")
    if test_filter:
        args += ["-k", test_filter]

    import pytest

    return pytest.main(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
