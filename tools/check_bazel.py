#!/usr/bin/env python3
"""CI check for the Bazel targets (stdlib only).

    python3 tools/check_bazel.py                       # query + coverage
    python3 tools/check_bazel.py --test                # ... then `bazel test //...`
    python3 tools/check_bazel.py --test //:tests/keras_bert/test_config

1. `bazel query //...` must succeed (offline: see WORKSPACE and .bazelrc).
2. Every .py file under the checked directories that git tracks, or that is
   untracked but not ignored, must be in the srcs of some target
   (`bazel query 'labels(srcs, //...)'`); missing files are listed.
3. With --test, `bazel test` runs on the given targets (default //...).

Exit status: 0 on success, 1 if a check fails, 2 if bazel or git is unusable
(not installed, timed out).
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys

# Directories whose .py files must all belong to a Bazel target.
CHECKED_DIRS = ("keras_bert", "trainers", "export", "references", "tests", "benchmarks", "tools")

DEFAULT_TIMEOUT = 600  # seconds, per bazel command


class CheckError(Exception):
    """A problem with the environment (exit 2) rather than with the targets."""


def repo_root():
    # Under `bazel run //:check_bazel`, resolve the runfiles symlink back to
    # the source tree.
    if os.environ.get("BUILD_WORKSPACE_DIRECTORY"):
        return os.environ["BUILD_WORKSPACE_DIRECTORY"]
    return os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


def run(cmd, root, timeout, capture=True):
    """Run cmd in root; return (returncode, stdout, stderr).

    On timeout, interrupt it like Ctrl-C (bazel then cancels the command on
    its server), kill it if it does not stop, and raise CheckError.
    """
    proc = subprocess.Popen(
        cmd,
        cwd=root,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        raise CheckError("`%s` timed out after %ds" % (" ".join(cmd), timeout))
    return proc.returncode, out or "", err or ""


def bazel_query(bazel, root, expr, timeout):
    cmd = [bazel, "query", expr, "--output=label", "--noshow_progress"]
    code, out, err = run(cmd, root, timeout)
    if code != 0:
        sys.stderr.write(err)
        raise SystemExit("FAILED: `bazel query '%s'` exited with %d" % (expr, code))
    return [line.strip() for line in out.splitlines() if line.strip()]


def label_to_path(label):
    """//pkg:name -> pkg/name; None for labels outside the main repository."""
    if not label.startswith("//"):
        return None
    package, _, name = label[2:].partition(":")
    if not name:  # //pkg is //pkg:pkg
        name = package.rsplit("/", 1)[-1]
    return "%s/%s" % (package, name) if package else name


def python_files(root, timeout):
    cmd = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--"]
    code, out, err = run(cmd + list(CHECKED_DIRS), root, timeout)
    if code != 0:
        raise CheckError("`git ls-files` failed: %s" % err.strip())
    return sorted(
        path
        for path in set(out.split("\0"))
        # Tracked files deleted in the working tree are not in any glob.
        if path.endswith(".py") and os.path.isfile(os.path.join(root, path))
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--test",
        nargs="*",
        metavar="TARGET",
        help="also run `bazel test` on TARGETs (default: //...)",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=DEFAULT_TIMEOUT,
        help="seconds allowed per bazel command (default: %(default)s)",
    )
    args = parser.parse_args(argv)

    bazel = shutil.which("bazel")
    if bazel is None:
        print(
            "ERROR: `bazel` is not installed (not on PATH). On Debian/Ubuntu:\n"
            "    apt-get install bazel-bootstrap",
            file=sys.stderr,
        )
        return 2
    if shutil.which("git") is None:
        print("ERROR: `git` is not installed (not on PATH).", file=sys.stderr)
        return 2
    root = repo_root()

    try:
        targets = bazel_query(bazel, root, "//...", args.timeout)
        srcs = bazel_query(bazel, root, "labels(srcs, //...)", args.timeout)
        covered = {label_to_path(label) for label in srcs}
        files = python_files(root, args.timeout)
        missing = [path for path in files if path not in covered]
        if missing:
            print(
                "FAILED: %d .py file(s) belong to no Bazel target (add them to "
                "a target in BUILD, or fix the globs):" % len(missing)
            )
            for path in missing:
                print("  " + path)
            return 1
        print(
            "bazel: %d targets, %d .py files all covered (%s)"
            % (len(targets), len(files), ", ".join(d + "/" for d in CHECKED_DIRS)),
            flush=True,
        )

        if args.test is not None:
            test_targets = args.test or ["//..."]
            cmd = [bazel, "test"] + test_targets
            print("$ " + " ".join(cmd), flush=True)
            code, _, _ = run(cmd, root, args.timeout, capture=False)
            if code == 4:  # built fine, but no test targets among them
                print("bazel test: no test targets in %s" % " ".join(test_targets))
            elif code != 0:
                print("FAILED: `bazel test` exited with %d" % code)
                return 1
    except CheckError as e:
        print("ERROR: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
