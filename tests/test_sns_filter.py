"""The emulator's SNS filter semantics (local_pipeline/sns_filter.py) against SNS's documented examples, and the
cases where moto 5.2.5's own matcher differs (so the emulator must not use it there)."""

from __future__ import annotations

import json

import pytest
from moto.sns.utils import FilterPolicyMatcher

from local_pipeline.sns_filter import matches


def attrs(**values) -> dict:
    return {name: {"Type": kind, "Value": value} for name, (kind, value) in values.items()}


#: (policy, scope, attributes, body, SNS's answer) where moto's matcher answers otherwise.
MOTO_DIFFERS = [
    pytest.param({"kind": ["5"]}, "MessageAttributes", attrs(kind=("Number", "5")), "{}", False,
                 id="string-value-vs-number-attribute"),
    pytest.param({"kind": ["order", {"exists": False}]}, "MessageAttributes", attrs(eventName=("String", "INSERT")), "{}",
                 True, id="exists-false-after-a-value"),
    pytest.param({"kind": ["order"]}, "MessageAttributes", attrs(kind=("String", '{"order": 1}')), "{}", False,
                 id="json-text-in-a-string-attribute"),
    pytest.param({"$or": [{"eventName": ["INSERT"]}, {"tableName": ["t"]}]}, "MessageBody", {},
                 json.dumps({"eventName": "MODIFY", "tableName": "t"}), True, id="or-in-a-body-policy"),
    pytest.param({"truncated": [True]}, "MessageBody", {}, json.dumps({"truncated": 1}), False,
                 id="boolean-in-a-body-policy-vs-number"),
]


@pytest.mark.parametrize(("policy", "scope", "attributes", "body", "sns"), MOTO_DIFFERS)
def test_sns_semantics_where_moto_differs(policy, scope, attributes, body, sns):
    assert matches(policy, scope, attributes, body) is sns
    try:
        moto = FilterPolicyMatcher(policy, scope).matches(attributes, body)
    except Exception:  # moto fails on some of them: nothing is delivered
        moto = False
    assert moto is not sns, "moto agrees now: this case no longer needs the emulator's matcher"


@pytest.mark.parametrize(("policy", "attributes", "expected"), [
    ({"customer_interests": ["rugby", "tennis"]}, attrs(customer_interests=("String", "rugby")), True),
    ({"customer_interests": ["rugby"]}, attrs(customer_interests=("String.Array", '["baseball", "rugby"]')), True),
    ({"customer_interests": ["rugby"]}, attrs(customer_interests=("String", "baseball")), False),
    ({"price": [{"numeric": ["=", 301.5]}]}, attrs(price=("Number", "3.015e2")), True),
    ({"price": [{"numeric": [">", 0, "<=", 150]}]}, attrs(price=("Number", "150")), True),
    ({"price": [{"numeric": [">", 0, "<=", 150]}]}, attrs(price=("Number", "150.1")), False),
    ({"price": [{"anything-but": [100, 500]}]}, attrs(price=("Number", "100")), False),
    ({"price": [{"anything-but": [100, 500]}]}, attrs(price=("Number", "100.1")), True),
    ({"store": [{"anything-but": ["x"]}]}, attrs(other=("String", "y")), False),  # absent: no match
    ({"store": [{"exists": True}]}, attrs(store=("String", "fans")), True),
    ({"store": [{"exists": False}]}, attrs(other=("String", "y")), True),
    ({"store": [{"exists": False}]}, {}, False),  # SNS: needs at least one attribute
    ({"store": [{"prefix": "ba"}]}, attrs(store=("String", "basket")), True),
    ({"store": [{"suffix": "ket"}]}, attrs(store=("String", "basket")), True),
    ({"store": [{"equals-ignore-case": "BASKET"}]}, attrs(store=("String", "basket")), True),
    ({"amount": [12.5]}, attrs(amount=("Number", "12.50")), True),
])
def test_documented_attribute_matching(policy, attributes, expected):
    assert matches(policy, "MessageAttributes", attributes, "{}") is expected


@pytest.mark.parametrize(("policy", "body", "expected"), [
    ({"newImage": {"kind": ["refund"]}}, {"newImage": {"kind": "refund"}}, True),
    ({"newImage": {"kind": ["refund"]}}, {"newImage": None, "oldImage": {"kind": "refund"}}, False),
    ({"newImage": {"kind": [{"exists": False}]}}, {"newImage": None}, True),
    ({"newImage": {"tags": ["a"]}}, {"newImage": {"tags": ["b", "a"]}}, True),
    ({"items": {"sku": ["x"]}}, {"items": [{"sku": "y"}, {"sku": "x"}]}, True),
    ({"newImage": {"amount": [{"numeric": [">=", 20]}]}}, {"newImage": {"amount": 22}}, True),
    ({"newImage": {"amount": [{"numeric": [">=", 20]}]}}, {"newImage": {"amount": "22"}}, False),
    ({"oldImage": [None]}, {"oldImage": None}, True),
    ({"truncated": [False]}, {"truncated": False}, True),
    ({"truncated": [False]}, {"truncated": 0}, False),
])
def test_documented_body_matching(policy, body, expected):
    assert matches(policy, "MessageBody", {}, json.dumps(body)) is expected
