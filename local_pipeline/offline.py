"""The offline AWS settings of a local run: dummy credentials, the region, no configuration files, no
instance metadata, and nothing that could point a client at real AWS.

Used by ``make local`` (:mod:`local_pipeline.safety`), ``make bench`` and the tests; the Lambda event contract
and the in-process handler loading are in :mod:`pipeline_model.lambda_runtime`.
"""

from __future__ import annotations

import os
from typing import MutableMapping

__all__ = ["DUMMY_CREDENTIALS", "UNSAFE_VARIABLES", "apply_offline_environment", "offline_environment"]

#: Dummy credentials: moto accepts anything, real AWS would reject these.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}

#: Variables that could point a client at real AWS or at other credentials (and every ``AWS_ENDPOINT_URL*``).
UNSAFE_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    # Would silently switch idempotency off and make "exactly once" untestable.
    "POWERTOOLS_IDEMPOTENCY_DISABLED",
)


def offline_environment(region: str = "us-east-1", **extra: str) -> dict[str, str]:
    """Dummy credentials, the region, no configuration files and no instance metadata, plus ``extra``."""
    return {
        **DUMMY_CREDENTIALS,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        # boto3 >= 1.35 would otherwise build account-id based DynamoDB endpoints (moto pitfall).
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra,
    }


def apply_offline_environment(region: str = "us-east-1", environ: MutableMapping[str, str] | None = None,
                              **extra: str) -> None:
    """Remove :data:`UNSAFE_VARIABLES` and endpoint overrides from ``environ`` (default ``os.environ``), then set
    :func:`offline_environment`. Do it before any client exists."""
    environ = os.environ if environ is None else environ
    for name in list(environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in UNSAFE_VARIABLES:
            del environ[name]
    environ.update(offline_environment(region, **extra))
