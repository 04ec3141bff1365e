"""Paths the command lines write to, checked before any work starts: a clear :class:`Problem` naming
the setting instead of an OSError (or, inside the jsii kernel, a JavaScript ENOENT) traceback."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from .config.text import quote_path
from .errors import Problem


def check_output_dir(value: str, setting: str) -> Problem | None:
    """A folder a tool will create and fill (``CDKTF_OUTDIR``): it may not exist yet, but it must not be
    a file, and its parent must be an existing, writable folder. None when it is usable."""
    if not value:
        return Problem(setting, "is empty", "name a folder or unset it")
    folder = Path(value)
    if folder.exists():
        if not folder.is_dir():
            return Problem(setting, f"{quote_path(folder)} is a file, not a folder")
        if not os.access(folder, os.W_OK):
            return Problem(setting, f"{quote_path(folder)} is not writable")
        return None
    parent = folder.absolute().parent
    if not parent.is_dir():
        return Problem(setting, f"the parent folder of {quote_path(folder)} does not exist",
                       f"create {quote_path(parent)} first, or choose another folder")
    if not os.access(parent, os.W_OK):
        return Problem(setting, f"the parent folder of {quote_path(folder)} is not writable")
    return None


def open_output_file(value: str, setting: str) -> IO[str] | Problem:
    """Open a log or report file for writing (its missing folders created), or the Problem why not."""
    if not value:
        return Problem(setting, "is empty", "name a file, or '-' for stderr")
    file = Path(value)
    if file.is_dir():
        return Problem(setting, f"{quote_path(file)} is a folder", "name a file in it")
    blocking = next((part for part in file.absolute().parents if part.exists() and not part.is_dir()), None)
    if blocking is not None:
        return Problem(setting, f"cannot write {quote_path(file)}: {quote_path(blocking)} is a file, not a folder")
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        return open(file, "w", encoding="utf-8")
    except OSError as error:
        return Problem(setting, f"cannot write {quote_path(file)} ({error.strerror or type(error).__name__})")
