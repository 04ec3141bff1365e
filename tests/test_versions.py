"""pipeline_model.versions: Terraform's version-constraint syntax, tests of a version, intersections."""

from __future__ import annotations

import pytest

from pipeline_model.versions import (
    Constraint,
    Version,
    VersionError,
    compatible,
    describe,
    lowest_common_version,
    satisfies,
)


@pytest.mark.parametrize(
    "version, constraint, expected",
    [
        # "~> X.Y" lets the minor increment: >= X.Y, < X+1
        ("5.0.0", "~> 5.0", True), ("5.100.0", "~> 5.0", True), ("5.99.99", "~> 5.0", True),
        ("6.0.0", "~> 5.0", False), ("4.67.0", "~> 5.0", False),
        # "~> X.Y.Z" lets the patch increment: >= X.Y.Z, < X.Y+1
        ("5.0.1", "~> 5.0.1", True), ("5.0.9", "~> 5.0.1", True), ("5.0.0", "~> 5.0.1", False),
        ("5.1.0", "~> 5.0.1", False),
        ("4.3.9", "~> 4.3.1", True), ("4.4.0", "~> 4.3.1", False),
        # "~> X" is read as >= X, < X+1
        ("1.9.0", "~> 1", True), ("2.0.0", "~> 1", False),
        # exact versions, with or without "="; missing components are zero
        ("6.25.0", "6.25.0", True), ("6.25.1", "6.25.0", False), ("6.25.0", "= 6.25.0", True),
        ("1.0.0", "= 1.0", True), ("1.0.5", "= 1.0", False), ("1.0.0", "1", True),
        ("6.25.0", "!= 6.25.0", False), ("6.25.1", "!= 6.25.0", True),
        # comparisons and lists
        ("6.28.0", ">= 6.28, < 7", True), ("6.27.9", ">= 6.28, < 7", False), ("7.0.0", ">= 6.28, < 7", False),
        ("6.99.0", ">= 6.28, < 7", True), ("1.5.7", ">= 1.5.7", True), ("1.5.6", ">= 1.5.7", False),
        ("2.0.0", "> 2", False), ("2.0.1", "> 2", True), ("2.0.0", "<= 2", True), ("2.0.1", "<= 2.0", False),
        ("v5.1.0", ">=5.0,<6", True),
    ],
)
def test_satisfies(version, constraint, expected):
    assert satisfies(version, constraint) is expected


@pytest.mark.parametrize(
    "constraints, lowest",
    [
        (["~> 5.0"], "5.0.0"),
        (["~> 5.0", ">= 5.98"], "5.98.0"),  # the tutorial stack: aws ~> 5.0 and what the modules need
        (["~> 5.0", ">= 6.28"], None),  # the tutorial constraint against the current modules
        ([">= 6.28, < 7", ">= 6.28"], "6.28.0"),
        (["6.25.0", ">= 6.28"], None),  # cdktf's provider package pins 6.25.0 exactly
        (["6.25.0", "~> 6.0"], "6.25.0"),
        (["~> 5.0.1", ">= 5.1"], None),
        (["~> 5.0.1", "> 5.0.4"], "5.0.5"),
        ([">= 1.0, < 1.0.1", "!= 1.0.0"], None),  # the only version left is excluded
        ([">= 1.0, < 1.0.3", "!= 1.0.0", "!= 1.0.1"], "1.0.2"),
        ([">= 1.0, != 1.0.0, != 1.0.1, != 1.0.2"], "1.0.3"),
        (["> 2.0.0", "< 2.0.1"], None),
        (["<= 2.0.0", ">= 2.0.0"], "2.0.0"),
        (["< 2.0.0", "> 1.99"], "1.99.1"),
        (["< 0.0.1"], "0.0.0"),
    ],
)
def test_lowest_common_version(constraints, lowest):
    found = lowest_common_version(*constraints)
    assert (str(found) if found else None) == lowest
    assert compatible(*constraints) is (lowest is not None)
    if found:  # the witness satisfies every constraint
        assert all(satisfies(found, c) for c in constraints)


def test_version_order_and_text():
    assert Version.parse("5.100.0") > Version.parse("5.99.0") > Version.parse("5.9")
    assert Version.parse("6") == Version(6, 0, 0) and str(Version.parse("6.28")) == "6.28.0"
    assert str(Constraint.parse(" >= 6.28 ,< 7 ")) == ">= 6.28 ,< 7"
    assert describe(["~> 5.0", ">= 6.28, < 7"]) == "'~> 5.0' and '>= 6.28, < 7'"


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "version constraint '': empty (write e.g. '>= 6.28, < 7' or '~> 5.0')"),
        (">= 6.28,", "version constraint '>= 6.28,': cannot read condition ''"),
        ("=> 6.28", "version constraint '=> 6.28': cannot read condition '=> 6.28'"),
        ("~> five", "version constraint '~> five': version 'five': cannot read it"),
        ("= 1.0.0-beta1", "pre-release and build suffixes are not supported"),
        (">= 1.2.3.4", "expected up to three numbers separated by dots"),
    ],
)
def test_unreadable_constraints_are_one_line_errors(text, message):
    with pytest.raises(VersionError) as raised:
        Constraint.parse(text)
    assert message in str(raised.value) and "\n" not in str(raised.value)
