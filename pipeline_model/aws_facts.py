"""Facts AWS derives from a region name (no cdktf): its partition and its DNS suffix.

Used when the stack's provider names a literal region; when it does not, the constructs read the
same facts from the ``aws_partition`` data source at plan time (constructs_lib.facts).
"""

from __future__ import annotations


def partition_of(region: str) -> str:
    """``aws``, ``aws-cn`` (cn-*) or ``aws-us-gov`` (us-gov-*)."""
    if "-gov-" in region:
        return "aws-us-gov"
    return "aws-cn" if region.startswith("cn-") else "aws"


def dns_suffix_of(region: str) -> str:
    """The service endpoints' DNS suffix (what ``kms:ViaService`` names): ``amazonaws.com.cn`` in China."""
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
