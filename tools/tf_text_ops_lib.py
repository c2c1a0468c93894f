"""Lists the ops `@org_tensorflow_text//tensorflow_text:ops_lib` registers at a tag.

TF Serving's model server links that target (SUPPORTED_TENSORFLOW_OPS in
tensorflow_serving/model_servers/BUILD), so these are the tensorflow-text
ops a TF Serving release can run. Used to write
`export/serving_releases.py`; run it again to check that table:

    python tools/tf_text_ops_lib.py /path/to/tensorflow/text/.git v2.12.1

How: the `ops_lib` cc_library of tensorflow_text/BUILD depends on `<name>_cc`
targets, each made by `py_tf_text_library(name = "<name>", cc_op_defs = [...])`
(tensorflow_text/tftext.bzl). Each op-def file registers ops either with
`REGISTER_OP("Name")` or with `REGISTER_TF_OP_SHIM(Kernel)`, whose name is
the `kOpName` of the kernel class in tensorflow_text/core/kernels/*.h.
"""

import re
import subprocess
import sys


def _show(git_dir, tag, path):
    return subprocess.run(["git", "--git-dir", git_dir, "show", f"{tag}:{path}"], check=True,
                          capture_output=True, text=True).stdout


def _files(git_dir, tag, folder):
    out = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "-r", "--name-only", tag, folder], check=True,
                         capture_output=True, text=True).stdout
    return out.split()


def _call_body(text, start):
    """The text of the call opened at `start` (an index of its "("), up to its ")"."""
    depth = 0
    for index in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return text[start:index + 1]
    raise ValueError(f"unbalanced call at {start}")


def _shim_op_names(git_dir, tag):
    """{name: what it stands for}: a kernel alias (`using A = B<...>`) -> B,
    a kernel class (`class A : public ...TfOpKernel<B, ...>`) -> B, an op
    class holding `kOpName[] = "Op"` -> "Op"."""
    names = {}
    for path in _files(git_dir, tag, "tensorflow_text/core"):
        if not path.endswith((".h", ".cc")) or "_test" in path:
            continue
        text = _show(git_dir, tag, path)
        for match in re.finditer(r'^class (\w+)[^{;]*\{(?:(?!\nclass ).)*?kOpName\[\] = "([^"]+)"', text,
                                 re.S | re.M):
            names[match.group(1)] = match.group(2)
        for alias, target in re.findall(r"using\s+(\w+)\s*=\s*(?:\w+::)*(\w+)<", text):
            names.setdefault(alias, target)
        for kernel, target in re.findall(r"class\s+(\w+)\s*:\s*public\s+(?:\w+::)*TfOpKernel<\s*(\w+)", text):
            names.setdefault(kernel, target)
    return names


def _resolve(names, kernel):
    seen = set()
    while kernel in names and kernel not in seen:
        seen.add(kernel)
        kernel = names[kernel]
    return kernel


def ops_lib_ops(git_dir, tag):
    """{op name: op-def file} of the ops `tensorflow_text:ops_lib` registers at `tag`."""
    build = _show(git_dir, tag, "tensorflow_text/BUILD")
    ops_lib = _call_body(build, build.index("(", build.index('name = "ops_lib"') - 40))
    libraries = re.findall(r'":(\w+)_cc"', ops_lib)
    op_defs = {}
    for start in (m.end() - 1 for m in re.finditer(r"py_tf_text_library\(", build)):
        body = _call_body(build, start)
        name = re.search(r'name = "(\w+)"', body).group(1)
        defs = re.search(r"cc_op_defs = \[([^\]]*)\]", body)
        if defs:
            op_defs[name] = re.findall(r'"//tensorflow_text/core/ops:([\w.]+)"', defs.group(1))
    shims = _shim_op_names(git_dir, tag)
    ops = {}
    for library in libraries:
        for file in op_defs[library]:
            path = f"tensorflow_text/core/ops/{file}"
            text = _show(git_dir, tag, path)
            for op in re.findall(r'REGISTER_OP\("([^"]+)"\)', text):
                ops[op] = path
            for kernel in re.findall(r"REGISTER_TF_OP_SHIM\((\w+)\)", text):
                op = _resolve(shims, kernel)
                if op == kernel:
                    raise ValueError(f"{path}: no kOpName found for {kernel}")
                ops[op] = path
    return ops


if __name__ == "__main__":
    for op, path in sorted(ops_lib_ops(sys.argv[1], sys.argv[2]).items()):
        print(f"{op}\t{path}")
