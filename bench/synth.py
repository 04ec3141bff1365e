"""Synth benchmark: the fast provider import against the naive one, measured in the same run.

On the CDK this Python runs (``runtime.flavour``: cdktf with ``.venv``, or CDK Terrain with
``.venv-cdktn`` under ``make bench CDK=cdktn``; the CLI is then ``cdktn``). Three pairs, each
run ``--runs`` times after ``--warmup`` untimed runs, alternating fast and baseline so that
load from other processes hits both alike:

* ``python main.py`` (default stack) vs ``python bench/naive_main.py`` (same stack, the plain
  import of the provider package and the original jsii tarball);
* ``cdktf synth`` (or ``cdktn synth``) with main.py vs with ``--app "python bench/naive_main.py"``;
* the whole test suite (``pytest``) vs the suite with ``PIPELINE_NAIVE_PROVIDER_IMPORT=1``
  (``--suite-runs``, default 3; ``--suite-runs 0`` skips it).

Printed per command: median wall time (min-max), median CPU time (user+sys of the whole
process tree, less sensitive to other load on the machine), peak memory (largest sum of the
RSS of the process and all its descendants, sampled every 50 ms), the ratio against the
baseline, and the first (warm-up) run's wall time. Output goes to temporary folders; the
fast and naive outputs of main.py are compared byte for byte.

    make bench ARGS="--runs 5"            .venv/bin/python -m bench --only main --runs 3
    .venv/bin/python -m bench --node system   # jsii and the CLI on the node on PATH
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(Path(sys.executable))
sys.path.insert(0, str(ROOT))

from constructs_lib.runtime.flavour import CDKTN, Flavour, FlavourError, select  # noqa: E402


def npm_folder(flavour: Flavour) -> Path:
    """Where the flavour's package.json installs the CLI and Node 22 (``make`` does)."""
    return ROOT / ("cdktn" if flavour is CDKTN else ".") / "node_modules" / ".bin"


# --- measuring one command ----------------------------------------------------------------

def _tree_rss_kb(root: int) -> int:
    """Sum of VmRSS of ``root`` and all its descendants (one scan of /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
            fields = stat[stat.rindex(b")") + 2 :].split()
            pid = int(entry.name)
            parents[pid] = int(fields[1])
            rss[pid] = int(fields[21]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
        except (OSError, ValueError, IndexError):
            continue
    total, frontier = 0, [root]
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    while frontier:
        pid = frontier.pop()
        total += rss.get(pid, 0)
        frontier.extend(children.get(pid, ()))
    return total


@dataclass
class Sample:
    wall: float
    cpu: float
    peak_mb: float
    returncode: int


def measure(argv: list[str], env: dict[str, str], cwd: Path = ROOT, log: Path | None = None) -> Sample:
    """Run argv; wall time, CPU time of the tree (wait4) and peak tree RSS (sampled)."""
    out = open(log, "wb") if log else subprocess.DEVNULL
    try:
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss_kb(process.pid))
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if log:
            out.close()
    return Sample(wall, usage.ru_utime + usage.ru_stime, peak / 1024, process.returncode)


@dataclass
class Series:
    label: str
    samples: list[Sample] = field(default_factory=list)
    first: Sample | None = None

    def median(self, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in self.samples)

    def span(self) -> str:
        walls = [s.wall for s in self.samples]
        return f"{min(walls):.2f}-{max(walls):.2f}"


class BenchError(Exception):
    pass


def run_pair(name: str, fast: tuple[str, list[str], dict], base: tuple[str, list[str], dict], runs: int, warmup: int,
             logdir: Path, outdirs: list[Path], allow_failure: bool = False) -> tuple[Series, Series]:
    """Alternate fast and baseline, each run with a fresh output folder ({outdir} in argv).

    allow_failure: a non-zero exit (failing tests) is reported but still timed.
    """
    series = (Series(fast[0]), Series(base[0]))
    for i in range(warmup + runs):
        order = (0, 1) if i % 2 == 0 else (1, 0)
        for which in order:
            label, argv, env = (fast, base)[which]
            env = dict(env)
            outdir = logdir / f"{name}-{'fast' if which == 0 else 'base'}-{i}" / "cdktf.out"
            outdir.parent.mkdir(parents=True, exist_ok=True)
            env["CDKTF_OUTDIR"] = str(outdir)
            final = [a.replace("{outdir}", str(outdir)) for a in argv]
            log = outdir.parent / "log.txt"
            sample = measure(final, env, log=log)
            if sample.returncode != 0:
                tail = log.read_text(errors="replace")[-1500:]
                if not allow_failure:
                    raise BenchError(f"{label} failed ({sample.returncode}); log {log}:\n{tail}")
                summary = tail.strip().splitlines()[-1] if tail.strip() else ""
                print(f"  {label}: exit status {sample.returncode} ({summary}); timed anyway")
            if i < warmup:
                series[which].first = series[which].first or sample
            else:
                series[which].samples.append(sample)
            print(f"  {label:<34} run {i + 1}/{warmup + runs}: {sample.wall:6.2f} s wall, "
                  f"{sample.cpu:6.2f} s cpu, {sample.peak_mb:7.0f} MB", flush=True)
            outdirs.append(outdir)
    return series


# --- environment ---------------------------------------------------------------------------

def _node_works(node: str) -> bool:
    try:
        return subprocess.run([node, "--version"], capture_output=True, timeout=30).returncode == 0
    except OSError:
        return False


def pick_node(choice: str, flavour: Flavour) -> str | None:
    """The node binary for jsii and the CLI: auto = $JSII_NODE, else node_modules' Node 22."""
    if choice == "system":
        return None
    if choice != "auto":
        return choice
    if os.environ.get("JSII_NODE"):
        return os.environ["JSII_NODE"]
    local = npm_folder(flavour) / "node"
    return str(local) if local.exists() and _node_works(str(local)) else None


def base_env(node: str | None, flavour: Flavour) -> dict[str, str]:
    """The Makefile's environment, with JSII_NODE set to ``node`` (or unset).

    NODE_COMPILE_CACHE is always removed: jsii extracts packages into a new temporary folder
    per process, and node keys its cache by path, so the cache would grow by ~5 MB per fast
    run and ~100 MB per naive run, for good.
    """
    env = dict(os.environ)
    env.update(CHECKPOINT_DISABLE="1", CDKTF_DISABLE_PLUGIN_CACHE_ENV="1", PIPELINE_CDK=flavour.name)
    for key in ("PIPELINE_NAIVE_PROVIDER_IMPORT", "PIPELINE_EAGER_PROVIDER_JS", "CDKTF_OUTDIR", "NODE_COMPILE_CACHE"):
        env.pop(key, None)
    if node:
        env["JSII_NODE"] = node
    else:
        env.pop("JSII_NODE", None)
    return env


def node_version(node: str | None) -> str:
    try:
        return subprocess.run([node or "node", "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        return "?"


# --- report --------------------------------------------------------------------------------

def report(pairs: list[tuple[str, Series, Series]]) -> None:
    if not pairs:
        return
    head = f"{'command':<36}{'runs':>5}{'wall s':>9}{'(min-max)':>16}{'cpu s':>8}{'peak MB':>9}{'first s':>9}"
    print("\n" + head + "   vs baseline (wall / peak memory)")
    print("-" * (len(head) + 36))
    for title, fast, base in pairs:
        for s, other in ((fast, base), (base, None)):
            first = f"{s.first.wall:9.2f}" if s.first else f"{'-':>9}"
            line = (f"{s.label:<36}{len(s.samples):>5}{s.median('wall'):>9.2f}{s.span():>16}"
                    f"{s.median('cpu'):>8.2f}{s.median('peak_mb'):>9.0f}{first}")
            if other is not None:
                speed = other.median("wall") / s.median("wall")
                memory = s.median("peak_mb") / other.median("peak_mb")
                line += f"   {speed:5.1f}x faster, {memory:4.2f}x the memory"
            else:
                line += "   (baseline)"
            print(line)
    print()


def identical(a: Path, b: Path) -> str:
    files_a = {p.relative_to(a): p for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b): p for p in b.rglob("*") if p.is_file()}
    if files_a.keys() != files_b.keys():
        return f"no: different files {sorted(map(str, files_a.keys() ^ files_b.keys()))}"
    diff = [str(k) for k in files_a if files_a[k].read_bytes() != files_b[k].read_bytes()]
    return f"no: {diff}" if diff else f"yes ({len(files_a)} files byte for byte)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per command (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed first runs per command (default 1)")
    parser.add_argument("--suite-runs", type=int, default=3, help="timed runs of the test suite (default 3, 0 skips)")
    parser.add_argument("--only", choices=["main", "cli", "suite"], action="append",
                        help="measure only these (repeatable); default all")
    parser.add_argument("--node", default="auto",
                        help="node for jsii and the CLI: auto ($JSII_NODE, else the flavour's node_modules/.bin/node), system, or a path")
    parser.add_argument("--keep", action="store_true", help="keep the temporary output folders")
    args, _unknown = parser.parse_known_args(argv)  # the rest may be for bench/handlers.py
    only = set(args.only or ["main", "cli", "suite"])

    try:
        flavour = select()
    except FlavourError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    node = pick_node(args.node, flavour)
    env = base_env(node, flavour)
    naive_env = dict(env, PIPELINE_NAIVE_PROVIDER_IMPORT="1")
    cli_path = npm_folder(flavour) / flavour.cli
    print(f"synth benchmark on {flavour.name} ({flavour.provider}): {os.cpu_count()} cores, python {sys.version.split()[0]}, "
          f"jsii/CLI node {node_version(node)} ({node or 'node on PATH'}), runs {args.runs} + warm-up {args.warmup}")

    tmp = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    pairs: list[tuple[str, Series, Series]] = []
    failed = False
    try:
        if "main" in only:
            outs: list[Path] = []
            fast, base = run_pair(
                "main",
                ("python main.py", [PY, "main.py"], env),
                ("python bench/naive_main.py", [PY, "bench/naive_main.py"], env),
                args.runs, args.warmup, tmp, outs,
            )
            pairs.append(("main", fast, base))
            print(f"  same output, fast vs naive: {identical(outs[-2], outs[-1])}")
        if "cli" in only:
            if not cli_path.exists():
                print(f"  {flavour.cli} synth: skipped (no {cli_path.relative_to(ROOT)}; run make install CDK={flavour.name})")
            else:
                # --app with this Python, for the fast run too: the flavour's own environment
                cli = ([node] if node else []) + [str(cli_path), "synth", "--output", "{outdir}"]
                outs = []
                fast, base = run_pair(
                    "cli",
                    (f"{flavour.cli} synth (what make synth runs)", cli + ["--app", f"{PY} main.py"], env),
                    (f"{flavour.cli} synth (naive app)", cli + ["--app", f"{PY} bench/naive_main.py"], env),
                    args.runs, args.warmup, tmp, outs,
                )
                pairs.append(("cli", fast, base))
        if "suite" in only and args.suite_runs > 0:
            suite = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
            outs = []
            fast, base = run_pair(
                "suite",
                ("pytest (whole suite)", suite, env),
                ("pytest (naive provider import)", suite, naive_env),
                args.suite_runs, 0, tmp, outs, allow_failure=True,
            )
            pairs.append(("suite", fast, base))
    except BenchError as error:
        failed = True
        print(f"bench: {error}", file=sys.stderr)
    finally:
        report(pairs)
        if args.keep or failed:
            print(f"outputs and logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
