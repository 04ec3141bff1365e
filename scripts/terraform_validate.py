"""`make validate`: tfschema_provider.validate (the `pipeline-validate` command) run from this checkout.

    python scripts/terraform_validate.py [--offline] [--offline-dir DIR] [--plan] STACK_DIR...

The same command as the installed `pipeline-validate` (see tfschema_provider/validate.py and
docs/validate.md), with one default of this repository's own: when neither --offline-dir nor
$PIPELINE_TERRAFORM_OFFLINE_DIR names the offline inputs, ../shared/terraform beside the checkout is
used if it exists. The installed command never looks there.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tfschema_provider import validate  # noqa: E402

OFFLINE_DIR_VARIABLE = validate.OFFLINE_DIR_VARIABLE
#: This checkout's default offline inputs folder.
REPO_OFFLINE_DIR = REPO_ROOT.parent / "shared" / "terraform"


def offline_dir() -> Path | None:
    """The offline inputs: $PIPELINE_TERRAFORM_OFFLINE_DIR, else ../shared/terraform beside the checkout."""
    return validate.offline_dir(fallback=REPO_OFFLINE_DIR)


def main(argv: list[str] | None = None) -> int:
    return validate.main(argv, fallback_offline_dir=REPO_OFFLINE_DIR, prog="scripts/terraform_validate.py")


if __name__ == "__main__":
    sys.exit(main())
