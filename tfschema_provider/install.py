"""Serve the schema-only provider to Terraform through a private CLI configuration.

`install(workdir, aws_schema, host)` writes, under `workdir`, a filesystem mirror holding one small
launcher per provider (hashicorp/aws, external, local, null) and a CLI configuration that installs
providers from that mirror only. Terraform reads it through TF_CLI_CONFIG_FILE in the
environment `install` returns; the user's own Terraform configuration is never read or touched.
`host` is the registry host the terraform binary in use resolves `hashicorp/<name>` to
(Terraform's own, or OpenTofu's for tofu), learnt from that binary by the caller
(`provider_host` in tfschema_provider/validate.py): no host is written down here.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator

HERE = Path(__file__).resolve().parent
#: The folder holding this package (a checkout, or site-packages when installed): the launchers put it
#: on PYTHONPATH so that `python -m tfschema_provider` finds this very copy.
PACKAGE_PARENT = HERE.parent

# The versions the mirror offers. aws is the release the schema served was taken from, read from
# its file name (aws-<version>.json; otherwise the default below, the newest in "~> 5.0"); external,
# local and null are the current releases whose documentation the small schemas in schemas/ follow. They satisfy the lambda module's constraints (>= 1.0, >= 1.0, >= 2.0).

PROVIDERS = {
    "aws": ("5.100.0", ["aws-provider.json"]),
    "external": ("2.3.5", ["external.json"]),
    "local": ("2.5.3", ["local.json"]),
    "null": ("3.2.4", ["null.json"]),
}


def current_platform() -> str:
    """Terraform's name for this machine's platform, e.g. linux_amd64."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    system = "darwin" if sys.platform == "darwin" else sys.platform.rstrip("0123456789")
    return f"{system}_{arch}"


#: hashicorp/aws supports a `provider_meta "aws"` block (user_agent, a list of strings) from 6.27.0
#: on (its CHANGELOG: "provider: The provider_meta block is now supported"); the module majors of
#: the current profile write one. Older releases reject it, and so does the provider served for them.
AWS_PROVIDER_META_SINCE = (6, 27, 0)


def _schemas(name: str, aws_schema: Path) -> list[Path]:
    own = [HERE / "schemas" / s for s in PROVIDERS[name][1]]
    if name != "aws":
        return own
    if tuple(int(n) for n in aws_version(aws_schema).split(".")) >= AWS_PROVIDER_META_SINCE:
        own.append(HERE / "schemas" / "aws-provider-meta.json")
    return [aws_schema, *own]


def _launcher(schemas: list[Path]) -> str:
    python_path = os.pathsep.join(filter(None, [str(PACKAGE_PARENT), os.environ.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "tfschema_provider"]
    for schema in schemas:
        command += ["--schema", str(schema)]
    return (
        "#!/bin/sh\n"
        "# Schema-only provider (tfschema_provider): validates and plans offline, never applies.\n"
        f"PYTHONPATH={shlex.quote(python_path)} exec {' '.join(shlex.quote(c) for c in command)} \"$@\"\n"
    )


def aws_version(aws_schema: Path) -> str:
    """The hashicorp/aws release a schema file was taken from (``aws-6.28.0.json``: 6.28.0); the
    mirror offers the provider under that version, so that terraform init checks every aws
    constraint of the stack and its modules against the schema actually served."""
    match = re.fullmatch(r"aws-(\d+\.\d+\.\d+)\.json", Path(aws_schema).name)
    return match[1] if match else PROVIDERS["aws"][0]


def install(workdir: Path, aws_schema: Path, host: str, target_platform: str | None = None) -> dict[str, str]:
    """Write the mirror and CLI configuration; return the environment for running terraform."""
    mirror = workdir / "mirror"
    target_platform = target_platform or current_platform()
    for name, (version, _) in PROVIDERS.items():
        version = aws_version(aws_schema) if name == "aws" else version
        package = mirror / host / "hashicorp" / name / version / target_platform
        package.mkdir(parents=True, exist_ok=True)
        launcher = package / f"terraform-provider-{name}_v{version}"
        launcher.write_text(_launcher(_schemas(name, aws_schema)))
        launcher.chmod(0o755)
    config = workdir / "terraform.rc"
    config.write_text(
        "# Written by tfschema_provider.install for one offline validation run.\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {_hcl_string(mirror)}\n"
        f'    include = ["{host}/hashicorp/*"]\n'
        "  }\n"
        "}\n"
    )
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("TF_CLI_ARGS") and k not in ("TF_PLUGIN_CACHE_DIR", "TF_DATA_DIR", "TF_REATTACH_PROVIDERS")
    }
    env.update(TF_CLI_CONFIG_FILE=str(config), CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1")
    return env


def _hcl_string(path: Path) -> str:
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextlib.contextmanager
def serve_in_process(workdir: Path, aws_schema: Path, host: str) -> Iterator[dict[str, str]]:
    """The same providers served from this process, for as long as the block runs.

    Terraform starts a plugin process for every provider each time it needs one (8 times for a
    validate, 12 for a plan, about 0.4 s each here). Instead, this serves each provider on a
    unix socket from threads of the calling process and hands Terraform their addresses through
    TF_REATTACH_PROVIDERS, its documented way to use already-running providers: nothing is
    started per call, and nothing outlives the block. The mirror and CLI configuration of
    `install` stay in place, so no other provider can be fetched.
    """
    from concurrent import futures

    import grpc
    from tf.gen import tfplugin_pb2_grpc

    from tfschema_provider.provider import SchemaOnlyProvider
    from tfschema_provider.schema import ProviderSchema

    env = install(workdir, aws_schema, host)
    sockets = Path(tempfile.mkdtemp(prefix="tfschema-"))  # mode 0700: only this user can connect
    servers, reattach = [], {}
    try:
        for name in PROVIDERS:
            server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
            provider = SchemaOnlyProvider(ProviderSchema.load(*_schemas(name, aws_schema)))
            tfplugin_pb2_grpc.add_ProviderServicer_to_server(provider, server)
            socket_path = sockets / f"{name}.sock"
            server.add_insecure_port(f"unix://{socket_path}")
            server.start()
            servers.append(server)
            reattach[f"{host}/hashicorp/{name}"] = {
                "Protocol": "grpc", "ProtocolVersion": 6, "Pid": os.getpid(), "Test": True,
                "Addr": {"Network": "unix", "String": str(socket_path)},
            }
        yield {**env, "TF_REATTACH_PROVIDERS": json.dumps(reattach)}
    finally:
        for server in servers:
            server.stop(grace=None)
        shutil.rmtree(sockets, ignore_errors=True)
