"""Fresh set-up benchmark (``make bench ARGS=--setup``): a new user's first ``make synth``.

Clones this repository's committed HEAD into a temporary folder and times ``make synth`` there
end to end (installing everything synth needs, then synthesizing), with empty caches: pip's
(``PIP_NO_CACHE_DIR=1``), a new ``UV_CACHE_DIR``, a new npm cache and a new jsii package cache.
It does so twice in the same run, once with the default installer (uv) and once with
``INSTALLER=pip``. In the uv clone it then times ``make test`` (installs checkov, runs the
suite) and ``make test`` again with nothing left to install, for comparison
(``--setup-skip-test`` leaves both out). ``make bench CDK=cdktn ARGS=--setup`` measures the CDK
Terrain set-up instead. Needs the package registries; takes about 7 minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Variables of the calling make (and of an activated environment) that must not leak into the clone's make.
SCRUB = ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES", "VIRTUAL_ENV", "PIPELINE_PYTHON", "PIPELINE_UV",
         "PIPELINE_INSTALLER", "JSII_NODE", "CDKTF_OUTDIR", "NODE_COMPILE_CACHE", "ARGS", "CDK", "INSTALLER",
         "PIPELINE_NAIVE_PROVIDER_IMPORT", "PIPELINE_EAGER_PROVIDER_JS", "PIPELINE_JSII_CACHE_DIR", "UV_CACHE_DIR",
         "npm_config_cache", "JSII_RUNTIME_PACKAGE_CACHE_ROOT", "PIPELINE_CONFIG", "PIPELINE_ENVIRONMENTS")


def cold_env(caches: Path) -> dict[str, str]:
    """The caller's environment with every package cache pointing at a new empty folder."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUB}
    caches.mkdir(parents=True)
    env.update(
        PIP_NO_CACHE_DIR="1",
        UV_CACHE_DIR=str(caches / "uv"),
        npm_config_cache=str(caches / "npm"),
        JSII_RUNTIME_PACKAGE_CACHE_ROOT=str(caches / "jsii"),
    )
    return env


def clone(dest: Path) -> None:
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(dest)], check=True)


def timed(argv: list[str], cwd: Path, env: dict[str, str], log: Path, label: str) -> tuple[float, float, int]:
    """Run argv; echo its step lines (``==>``, ``...``) with the label; return wall s, cpu s, status."""
    start = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, errors="replace")
        assert process.stdout is not None
        for line in process.stdout:
            out.write(line)
            if line.startswith(("==>", "    ...", "error")) or " passed" in line or " failed" in line:
                print(f"  [{label} {time.perf_counter() - start:5.0f} s] {line.rstrip()}", flush=True)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime, process.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench --setup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--setup", action="store_true", help="run this benchmark (what make bench ARGS=--setup does)")
    parser.add_argument("--setup-skip-pip", action="store_true", help="leave out the pip path")
    parser.add_argument("--setup-skip-test", action="store_true", help="leave out make test after the uv set-up")
    parser.add_argument("--keep", action="store_true", help="keep the clones, caches and logs")
    args, _unknown = parser.parse_known_args(argv)
    cdk = os.environ.get("PIPELINE_CDK") or "cdktf"
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    print(f"fresh set-up benchmark: {os.cpu_count()} cores, CDK={cdk}, clean clones of HEAD {head}"
          + (" (uncommitted changes are not measured)" if dirty else "") + ", empty pip/uv/npm/jsii caches")
    tmp = Path(tempfile.mkdtemp(prefix="pipeline-setup-bench-"))
    rows: list[tuple[str, float, float, int]] = []
    try:
        for installer in ("uv",) + (() if args.setup_skip_pip else ("pip",)):
            work = tmp / installer
            clone(work / "clone")
            env = cold_env(work / "caches")
            wall, cpu, status = timed(["make", "synth", f"CDK={cdk}", f"INSTALLER={installer}"], work / "clone", env,
                                      work / "synth.log", installer)
            rows.append((f"make synth, fresh clone, {installer}", wall, cpu, status))
            if installer == "uv" and not args.setup_skip_test and status == 0:
                wall, cpu, status = timed(["make", "test", f"CDK={cdk}", "ARGS=-q -p no:cacheprovider"], work / "clone",
                                          env, work / "test.log", "test")
                rows.append(("then make test (adds checkov)", wall, cpu, status))
                wall, cpu, status = timed(["make", "test", f"CDK={cdk}", "ARGS=-q -p no:cacheprovider"], work / "clone",
                                          env, work / "test-again.log", "test again")
                rows.append(("make test again (nothing to install)", wall, cpu, status))
    finally:
        print(f"\n{'command':<40}{'wall s':>9}{'cpu s':>9}")
        print("-" * 58)
        base = rows[0][1] if rows else None
        for label, wall, cpu, status in rows:
            note = "" if status == 0 else f"   exit status {status}"
            if base and label.endswith(", pip"):
                note += f"   {wall / base:.1f}x the uv path"
            print(f"{label:<40}{wall:>9.1f}{cpu:>9.1f}{note}")
        print()
        if args.keep or any(status for *_, status in rows):
            print(f"clones, caches and logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if any(status for *_, status in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
