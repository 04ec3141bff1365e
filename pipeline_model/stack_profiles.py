"""Stack profiles: the terraform-aws-modules, provider and Terraform constraints a stack is built on.

One place per profile (pure data, no cdktf):

- ``tutorial`` (the default): the tutorial's pins, hashicorp/aws ``~> 5.0``, Terraform ``>= 1.3.0``,
  dynamodb-table ``~> 4.0``, sns ``~> 6.0``, sqs ``~> 4.0``, lambda ``~> 7.0``.
- ``current``: hashicorp/aws ``>= 6.28, < 7``, Terraform ``>= 1.5.7`` and the newest majors of the
  four modules (dynamodb-table 5, sns 7, sqs 5, lambda 8), which all need aws >= 6.28 and
  Terraform >= 1.5.7.

Each module records what the newest release inside its constraint declares in its ``versions.tf``
(``requires_aws``, ``requires_terraform``): Terraform installs the newest release a constraint
admits, so that release's requirements are the ones a stack must meet. ``condition_key`` is the key
the module reads for the conditions of its policy-statement inputs (sns 6 and sqs 4 read only
``conditions``; sns 7 reads only ``condition``; sqs 5 reads both, ``conditions`` marked for removal;
lambda 7 and 8 read ``condition``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Mapping

from .versions import Constraint, Version, lowest_common_version

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "SQS_DEFAULT_MAX_MESSAGE_SIZE",
    "SQS_LARGEST_MAX_MESSAGE_SIZE",
    "ModuleSource",
    "ProfileError",
    "StackProfile",
    "StackProfileName",
    "profile",
    "queue_max_message_size",
]

#: The names a configuration or props may give (``stack_profile``).
StackProfileName = Literal["tutorial", "current"]

#: SQS's own default ``MaximumMessageSize`` (what a queue gets when nothing sets it; the hashicorp/aws
#: provider's default for ``aws_sqs_queue.max_message_size`` too): 262,144 bytes (256 KiB).
SQS_DEFAULT_MAX_MESSAGE_SIZE = 262_144
#: The largest ``MaximumMessageSize`` SQS accepts since 2025: 1,048,576 bytes (1 MiB); the
#: provider accepts it from hashicorp/aws 6.8 on, sqs module 5 documents it.
SQS_LARGEST_MAX_MESSAGE_SIZE = 1_048_576


class ProfileError(ValueError):
    """An unknown profile name."""


@dataclass(frozen=True)
class ModuleSource:
    source: str
    version: str
    tag: str = ""  # the newest release inside ``version`` (the one Terraform installs)
    requires_aws: str = ""  # that release's hashicorp/aws constraint
    requires_terraform: str = ""  # that release's required_version
    condition_key: str = "condition"  # the statement key its policy-statement inputs read conditions from

    @property
    def name(self) -> str:
        """The module's name in its registry address: ``sqs`` for terraform-aws-modules/sqs/aws."""
        return self.source.split("/")[1]

    def spell_conditions(self, statements: Mapping[str, Any], where: str = "policy_statements") -> dict[str, Any]:
        """``statements`` (a map of policy statements) with each statement's conditions under the
        key this module reads (``condition_key``), whichever of ``condition``/``conditions`` it was
        written with: the other spelling would be ignored (``any`` + try()) or dropped by Terraform's
        type conversion (an object type), silently, turning a restriction into none."""
        spelt: dict[str, Any] = {}
        other = "conditions" if self.condition_key == "condition" else "condition"
        for key, statement in statements.items():
            if isinstance(statement, Mapping) and other in statement:
                if self.condition_key in statement:
                    raise ValueError(
                        f"{where}.{key}: gives both 'condition' and 'conditions'; write the conditions "
                        f"once, under {self.condition_key!r} (the key {self.source} {self.tag} reads)"
                    )
                statement = {(self.condition_key if k == other else k): v for k, v in statement.items()}
            spelt[key] = statement
        return spelt


@dataclass(frozen=True)
class StackProfile:
    name: str
    terraform_required_version: str
    aws_provider_version: str
    modules: Mapping[str, ModuleSource] = field(hash=False)  # keys: dynamodb_table, sns, sqs, lambda
    aws_provider_source: str = "hashicorp/aws"
    description: str = ""
    #: ``max_message_size`` of every subscriber queue and its DLQ (sqs input; one value for both);
    #: None = not set, i.e. SQS's default (256 KiB).
    subscriber_queue_max_message_size: int | None = None
    #: The attribute of ``data.aws_region`` holding the region's name: ``name`` on hashicorp/aws 5
    #: (deprecated on 6, still present), ``region`` on 6.
    region_data_attribute: str = "name"

    def __post_init__(self) -> None:
        object.__setattr__(self, "modules", MappingProxyType(dict(self.modules)))

    @property
    def dynamodb_table(self) -> ModuleSource:
        return self.modules["dynamodb_table"]

    @property
    def sns(self) -> ModuleSource:
        return self.modules["sns"]

    @property
    def sqs(self) -> ModuleSource:
        return self.modules["sqs"]

    @property
    def lambda_(self) -> ModuleSource:
        return self.modules["lambda"]

    def modules_aws_constraints(self) -> dict[str, str]:
        """The hashicorp/aws constraint each module declares, by module source."""
        return {m.source: m.requires_aws for m in self.modules.values() if m.requires_aws}

    def lowest_aws(self) -> Version | None:
        """The lowest hashicorp/aws the profile's own constraint and all its modules accept."""
        return lowest_common_version(self.aws_provider_version, *self.modules_aws_constraints().values())

    def lowest_terraform(self) -> Version | None:
        required = [m.requires_terraform for m in self.modules.values() if m.requires_terraform]
        return lowest_common_version(self.terraform_required_version, *required)


TUTORIAL = StackProfile(
    name="tutorial",
    terraform_required_version=">= 1.3.0",
    aws_provider_version="~> 5.0",
    description="the tutorial's pins: hashicorp/aws 5 and the module majors it was written for",
    modules={
        "dynamodb_table": ModuleSource("terraform-aws-modules/dynamodb-table/aws", "~> 4.0", "v4.4.0",
                                       ">= 5.98", ">= 1.0", "conditions"),
        "sns": ModuleSource("terraform-aws-modules/sns/aws", "~> 6.0", "v6.2.1", ">= 5.98", ">= 1.0", "conditions"),
        "sqs": ModuleSource("terraform-aws-modules/sqs/aws", "~> 4.0", "v4.3.1", ">= 4.36", ">= 1.0", "conditions"),
        "lambda": ModuleSource("terraform-aws-modules/lambda/aws", "~> 7.0", "v7.21.1", ">= 5.79", ">= 1.0",
                               "condition"),
    },
)

CURRENT = StackProfile(
    name="current",
    terraform_required_version=">= 1.5.7",
    aws_provider_version=">= 6.28, < 7",
    description="hashicorp/aws 6 and the newest major of each module",
    subscriber_queue_max_message_size=SQS_LARGEST_MAX_MESSAGE_SIZE,
    region_data_attribute="region",
    modules={
        "dynamodb_table": ModuleSource("terraform-aws-modules/dynamodb-table/aws", "~> 5.0", "v5.5.0",
                                       ">= 6.28", ">= 1.5.7", "condition"),
        "sns": ModuleSource("terraform-aws-modules/sns/aws", "~> 7.0", "v7.1.0", ">= 6.28", ">= 1.5.7", "condition"),
        "sqs": ModuleSource("terraform-aws-modules/sqs/aws", "~> 5.0", "v5.2.1", ">= 6.28", ">= 1.5.7", "condition"),
        "lambda": ModuleSource("terraform-aws-modules/lambda/aws", "~> 8.0", "v8.8.1", ">= 6.28", ">= 1.5.7",
                               "condition"),
    },
)

DEFAULT_PROFILE = TUTORIAL.name
PROFILES: Mapping[str, StackProfile] = MappingProxyType({p.name: p for p in (TUTORIAL, CURRENT)})


def profile(name: str | None = None) -> StackProfile:
    """The profile called ``name`` (None: the default, ``tutorial``)."""
    chosen = DEFAULT_PROFILE if name is None else name
    try:
        return PROFILES[chosen]
    except (KeyError, TypeError):
        raise ProfileError(
            f"stack_profile: unknown profile {chosen!r} (choose one of {', '.join(map(repr, PROFILES))})"
        ) from None


def queue_max_message_size(name: str | None = None) -> int:
    """The largest message (bytes) a subscriber queue (and its DLQ) of a stack in profile ``name``
    accepts: 1 MiB in ``current`` (set explicitly), SQS's default 256 KiB in ``tutorial``. What a
    producer's per-subscriber size budget is computed from."""
    chosen = profile(name)
    return chosen.subscriber_queue_max_message_size or SQS_DEFAULT_MAX_MESSAGE_SIZE


# Both profiles' constraints must be readable: a typo here fails at import, not at synth.
for _profile in PROFILES.values():
    for _text in (_profile.aws_provider_version, _profile.terraform_required_version,
                  *(m.version for m in _profile.modules.values())):
        Constraint.parse(_text)
