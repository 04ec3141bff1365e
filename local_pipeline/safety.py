"""Keep every AWS call on the local emulator: dummy credentials, a loopback endpoint, a guard.

Four layers, all undone when the run ends (the process environment is restored):

1. ``os.environ`` is set *before any client exists*: the offline settings every local run
   shares (``local_pipeline.offline.offline_environment``: dummy credentials, the region, no
   config/credentials files) and ``AWS_ENDPOINT_URL`` (honoured by every boto3/botocore
   client, including the ones the handlers and Powertools create). Anything that could
   redirect a client elsewhere is removed: profiles, per-service ``AWS_ENDPOINT_URL_*`` overrides.
2. The endpoint must be a loopback address, otherwise the run is refused.
3. A guard on botocore's HTTP layer refuses to send any request whose host is not loopback,
   so a client created with an explicit ``endpoint_url`` still cannot reach real AWS.
4. ``NO_PROXY``/``no_proxy`` name the loopback addresses (added to any existing value), so an
   ``HTTP_PROXY``/``HTTPS_PROXY`` in the environment cannot route the emulator's traffic to a proxy
   (botocore and urllib both honour it). Set before the emulator starts.
"""

from __future__ import annotations

import ipaddress
import os
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlsplit

from .offline import apply_offline_environment, offline_environment

class UnsafeEndpoint(RuntimeError):
    """A request or endpoint that is not on this machine's loopback interface."""


def is_loopback(url_or_host: str) -> bool:
    host = urlsplit(url_or_host).hostname if "://" in url_or_host else url_or_host
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_loopback(url: str, what: str = "endpoint") -> str:
    if not is_loopback(url):
        raise UnsafeEndpoint(f"refusing to run: {what} {url!r} is not a loopback address (127.0.0.0/8, ::1, localhost)")
    return url


#: Hosts that must never go through a proxy: the emulator listens on one of them.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def no_proxy_for_loopback(environ: dict[str, str] | None = None) -> dict[str, str]:
    """``NO_PROXY`` and ``no_proxy`` with the loopback hosts added to whatever either already lists."""
    environ = os.environ if environ is None else environ
    listed: list[str] = []
    for name in ("no_proxy", "NO_PROXY"):
        for host in (environ.get(name) or "").split(","):
            if host.strip() and host.strip() not in listed:
                listed.append(host.strip())
    value = ",".join([*listed, *(h for h in LOOPBACK_HOSTS if h not in listed)])
    return {"NO_PROXY": value, "no_proxy": value}


def bypass_proxies_for_loopback() -> None:
    os.environ.update(no_proxy_for_loopback())


def local_environment(endpoint_url: str, region: str) -> dict[str, str]:
    """The variables a local run sets (see module docstring)."""
    require_loopback(endpoint_url, "AWS_ENDPOINT_URL")
    return offline_environment(region, **_local_settings(endpoint_url))


def _local_settings(endpoint_url: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_RETRY_MODE": "standard",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "LocalPipeline",
        **no_proxy_for_loopback(),
    }


@contextmanager
def isolated_environment() -> Iterator[None]:
    """Restore ``os.environ`` exactly as it was when the block exits (also on error)."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def apply_local_environment(endpoint_url: str, region: str) -> None:
    require_loopback(endpoint_url, "AWS_ENDPOINT_URL")
    apply_offline_environment(region, **_local_settings(endpoint_url))
    require_loopback(os.environ["AWS_ENDPOINT_URL"], "AWS_ENDPOINT_URL")


@contextmanager
def loopback_guard() -> Iterator[None]:
    """Make botocore refuse to send any request to a host that is not loopback."""
    from botocore.httpsession import URLLib3Session

    original = URLLib3Session.send

    def send(self, request):  # type: ignore[no-untyped-def]
        if not is_loopback(request.url):
            raise UnsafeEndpoint(f"local pipeline: blocked a request to {urlsplit(request.url).hostname!r} (not loopback)")
        return original(self, request)

    URLLib3Session.send = send  # type: ignore[method-assign]
    try:
        yield
    finally:
        URLLib3Session.send = original  # type: ignore[method-assign]


def check_client(client, what: str) -> None:
    """Refuse a client whose endpoint is not loopback."""
    require_loopback(client.meta.endpoint_url, f"{what} endpoint")
