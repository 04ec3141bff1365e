#!/usr/bin/env python
"""cdktf entry point: one stack per configured environment.

Before anything is imported, a preflight turns the usual set-up mistakes into one line each
(exit 2) instead of a traceback: a Python older than 3.11, this interpreter lacking the
project's packages, no node for jsii. Kept parseable by old Pythons on purpose.
"""

import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
LIBRARIES = {
    "cdktf": ("cdktf", "cdktf_cdktf_provider_aws"),
    "cdktn": ("cdktn", "cdktn_provider_aws"),
}
COMMON = ("constructs", "jsii", "pydantic")


def preflight(version_info=None, find_spec=None, which=None, environ=None, executable=None, root=ROOT):
    """The one-line reason main.py cannot run here, or None."""
    version_info = tuple((version_info or sys.version_info)[:2])
    environ = os.environ if environ is None else environ
    executable = executable or sys.executable
    chosen = environ.get("PIPELINE_CDK")
    cdk = chosen or "cdktf"
    install = "make synth" if cdk == "cdktf" else "make synth CDK=cdktn"
    if version_info < (3, 11):
        return ("error: python: %s is Python %d.%d; this project needs 3.11 or newer: run main.py with a newer "
                "one, or `%s` (PYTHON=python3.11 picks the one make builds .venv from)"
                % ((executable,) + version_info + (install,)))
    if cdk not in LIBRARIES:
        return "error: PIPELINE_CDK: must be cdktf or cdktn, not %r" % cdk
    if find_spec is None:
        import importlib.util

        find_spec = importlib.util.find_spec
    # Without PIPELINE_CDK either library will do (the code takes whichever is installed, cdktf first).
    missing = [name for name in LIBRARIES[cdk] + COMMON if find_spec(name) is None]
    if missing and not chosen and all(find_spec(name) is not None for name in LIBRARIES["cdktn"] + COMMON):
        cdk, missing = "cdktn", []
    if missing:
        pipenv = "pipenv install --dev" if cdk == "cdktf" else "PIPENV_PIPFILE=cdktn/Pipfile pipenv install --dev"
        return ("error: python: %s lacks this project's packages (no %s): run `%s` and use its .venv, or `%s` and "
                "`pipenv run python main.py`, or activate a virtualenv that has them"
                % (executable, ", ".join(missing), install, pipenv))
    if which is None:
        import shutil

        which = shutil.which
    node = environ.get("JSII_NODE")
    if node:
        if not (os.access(node, os.X_OK) and os.path.isfile(node)) and not which(node):
            return "error: JSII_NODE: %s is not an executable node; unset it or point it at Node.js 20 or newer" % node
        return None
    local = [os.path.join(root, sub, "node_modules", ".bin", "node") for sub in ("", "cdktn")]
    if not any(os.access(path, os.X_OK) for path in local) and not which("node"):
        return ("error: node: not found on PATH; jsii runs the %s library on Node.js: install Node.js 20 or newer "
                "(`%s` then adds Node.js 22 to node_modules), or set JSII_NODE" % (cdk, install))
    return None


def use_supported_node(environ=None, root=ROOT):
    """Run jsii on this repository's Node.js 22 (node_modules, or cdktn/node_modules for CDK Terrain) when it is
    installed and JSII_NODE names none: jsii prints a large end-of-life banner on Node 20. The library itself
    knows nothing of this repository's layout; this app (and its tests and scripts) choose the node here."""
    environ = os.environ if environ is None else environ
    if "JSII_NODE" in environ:
        return
    first = "cdktn" if environ.get("PIPELINE_CDK") == "cdktn" else ""
    for folder in (first, "", "cdktn"):
        node = os.path.join(root, folder, "node_modules", ".bin", "node")
        if os.access(node, os.X_OK):
            environ["JSII_NODE"] = node
            return


if __name__ == "__main__":
    problem = preflight()
    if problem:
        sys.stderr.write(problem + "\n")
        sys.exit(2)
    use_supported_node()
    # This project keeps the provider's lazy jsii copy with its other build artefacts (the library
    # itself defaults to the user's cache folder).
    os.environ.setdefault("PIPELINE_JSII_CACHE_DIR", os.path.join(ROOT, ".build", "jsii"))
    from constructs_lib.app import run

    run(sys.argv[1:])
