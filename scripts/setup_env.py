"""The install steps behind `make synth`, `make test` and the other targets.

Each step prints one line when it starts and one with its duration when it ends, and a
progress line every few seconds while it runs (its own output goes to a log file under
``.build/setup/``, shown when the step fails), so steps that make runs in parallel stay
readable. Steps:

    python scripts/setup_env.py uv    TOOLS_DIR            # uv into TOOLS_DIR/bin (pip --target)
    python scripts/setup_env.py venv  VENV (--pipfile P | --requirements R)
    python scripts/setup_env.py npm   DIR                  # npm install in DIR (its package.json)

``venv`` installs with uv when there is one (``$PIPELINE_UV``, then ``uv`` on PATH, then
``.venv-tools/bin/uv``) and with pip otherwise; ``PIPELINE_INSTALLER=pip`` forces pip. The
requirements come from the Pipfile (scripts/pipfile_requirements.py), which stays the one
place where the Python dependencies are declared.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / ".build" / "setup"
TOOLS_REQUIREMENTS = ROOT / "scripts" / "tools-requirements.txt"
#: Seconds between progress lines of a running step.
HEARTBEAT = float(os.environ.get("PIPELINE_SETUP_HEARTBEAT", "5"))


class StepFailed(Exception):
    pass


def say(line: str) -> None:
    print(line, flush=True)


def run_step(label: str, commands: list[list[str]], log_name: str, env: dict[str, str] | None = None,
             cwd: Path = ROOT) -> float:
    """Run commands one after the other as one step; return its duration in seconds."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{log_name}.log"
    start = time.monotonic()
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(HEARTBEAT):
            last = _last_line(log_path)
            say(f"    ... {label}: {time.monotonic() - start:.0f} s" + (f" ({last})" if last else ""))

    ticker = threading.Thread(target=heartbeat, daemon=True)
    ticker.start()
    failure = None
    try:
        with open(log_path, "wb") as log:
            for argv in commands:
                log.write(("$ " + " ".join(argv) + "\n").encode())
                log.flush()
                code = subprocess.call(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
                if code != 0:
                    failure = f"`{' '.join(argv)}` exited with status {code}"
                    break
    except OSError as error:
        failure = str(error)
    finally:
        done.set()
        ticker.join()
    if failure:
        tail = log_path.read_text(errors="replace").splitlines()[-25:] if log_path.exists() else []
        for line in tail:
            say(f"    | {line}")
        say(f"==> {label}: FAILED after {time.monotonic() - start:.1f} s: {failure} (full log: {_rel(log_path)})")
        raise StepFailed(failure)
    elapsed = time.monotonic() - start
    say(f"==> {label}: done in {elapsed:.1f} s")
    return elapsed


def _last_line(path: Path, width: int = 70) -> str:
    """The log's last non-empty line, shortened: what the step is doing now."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            lines = [l.strip() for l in f.read().decode(errors="replace").splitlines() if l.strip()]
    except OSError:
        return ""
    if not lines or lines[-1].startswith("$ "):
        return ""
    last = lines[-1]
    return last if len(last) <= width else last[: width - 3] + "..."


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


# --- uv ------------------------------------------------------------------------------------

def find_uv() -> str | None:
    """The uv to install with, or None for pip."""
    if os.environ.get("PIPELINE_INSTALLER", "uv") == "pip":
        return None
    for candidate in (os.environ.get("PIPELINE_UV"), shutil.which("uv"), str(ROOT / ".venv-tools" / "bin" / "uv")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def install_uv(tools: Path) -> int:
    """uv (pinned in scripts/tools-requirements.txt) into ``tools``; never fatal: pip is the fallback."""
    if os.environ.get("PIPELINE_INSTALLER", "uv") == "pip":
        return 0
    on_path = shutil.which("uv")
    if on_path:
        say(f"==> uv: using {on_path}")
        return 0
    say(f"==> uv: installing into {_rel(tools)} (a fast installer for the Python packages)")
    python = sys.executable
    pip_args = ["install", "--quiet", "--disable-pip-version-check", "--no-warn-script-location", "--upgrade",
                "--target", str(tools), "-r", str(TOOLS_REQUIREMENTS)]
    if subprocess.call([python, "-m", "pip", "--version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
        commands = [[python, "-m", "pip", *pip_args]]
    else:  # a Python without pip (Debian's): a throwaway venv brings one
        helper = tools / "pip-env"
        commands = [[python, "-m", "venv", str(helper)], [str(helper / "bin" / "python"), "-m", "pip", *pip_args]]
    try:
        run_step("uv", commands, "uv")
    except StepFailed:
        say("==> uv: could not be installed; the Python packages will be installed with pip (slower)")
        shutil.rmtree(tools / "bin", ignore_errors=True)
    return 0


# --- virtual environments ------------------------------------------------------------------

def requirements_from_pipfile(pipfile: Path) -> list[str]:
    sys.path.insert(0, str(ROOT / "scripts"))
    from pipfile_requirements import requirements

    return requirements(pipfile)


def make_venv(venv: Path, requirements: list[str], source: str) -> int:
    """(Re)build ``venv`` with ``requirements`` installed; uv when available, else (or when uv fails) pip."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    req_file = LOG_DIR / f"{venv.name.lstrip('.') or 'venv'}-requirements.txt"
    req_file.write_text("\n".join(requirements) + "\n")
    uv = find_uv()
    if uv:
        try:
            return _install(venv, req_file, len(requirements), source, uv)
        except StepFailed:
            say("==> uv could not install them; trying pip (uv reads its own index settings, not pip's)")
    return _install(venv, req_file, len(requirements), source, None)


def _install(venv: Path, req_file: Path, count: int, source: str, uv: str | None) -> int:
    label = f"python packages ({_rel(venv)}, {'uv' if uv else 'pip'})"
    say(f"==> {label}: installing {count} pinned packages from {source}")
    python = venv / "bin" / "python"
    commands: list[list[str]] = []
    has_pip = python.exists() and subprocess.call([str(python), "-m", "pip", "--version"], stdout=subprocess.DEVNULL,
                                                  stderr=subprocess.DEVNULL) == 0
    if not python.exists() or (not uv and not has_pip):
        commands.append([sys.executable, "-m", "venv", "--clear", *(["--without-pip"] if uv else []), str(venv)])
    env = dict(os.environ)
    if uv:
        env.setdefault("UV_PYTHON_DOWNLOADS", "never")
        commands.append([uv, "pip", "install", "--python", str(python), "-r", str(req_file)])
    else:
        commands.append([str(python), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off",
                         "-r", str(req_file)])
    run_step(label, commands, venv.name.lstrip(".") or "venv", env=env)
    return 0


# --- npm -----------------------------------------------------------------------------------

def npm_install(directory: Path) -> int:
    npm = shutil.which("npm")
    if not npm:
        say("error: npm: not found on PATH; install Node.js 20 or newer with npm "
            f"(it installs the CLI from {_rel(directory / 'package.json')})")
        return 2
    label = f"{_package_title(directory)} (npm, {_rel(directory / 'package.json')})"
    say(f"==> {label}: installing")
    run_step(label, [[npm, "install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error"]],
             "npm-" + (directory.name if directory != ROOT else "root"), cwd=directory)
    return 0


def _package_title(directory: Path) -> str:
    text = (directory / "package.json").read_text() if (directory / "package.json").exists() else ""
    for cli in ("cdktn-cli", "cdktf-cli"):
        if f'"{cli}"' in text:
            return cli.replace("-cli", " CLI")
    return "node packages"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/setup_env.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p_uv = sub.add_parser("uv")
    p_uv.add_argument("tools", type=Path)
    p_venv = sub.add_parser("venv")
    p_venv.add_argument("venv", type=Path)
    group = p_venv.add_mutually_exclusive_group(required=True)
    group.add_argument("--pipfile", type=Path)
    group.add_argument("--requirements", type=Path)
    p_npm = sub.add_parser("npm")
    p_npm.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.step == "uv":
            return install_uv(args.tools.resolve())
        if args.step == "venv":
            if args.pipfile:
                requirements, source = requirements_from_pipfile(args.pipfile), str(args.pipfile)
            else:
                requirements = [l.strip() for l in args.requirements.read_text().splitlines()
                                if l.strip() and not l.lstrip().startswith("#")]
                source = str(args.requirements)
            return make_venv(args.venv.absolute(), requirements, source)
        return npm_install(args.directory.resolve())
    except StepFailed:
        return 1
    except FileNotFoundError as error:
        say(f"error: {error.filename}: not found")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
