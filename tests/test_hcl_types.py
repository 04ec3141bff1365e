"""pipeline_model.hcl_types: variable types read from Terraform files, and keys an object type would drop."""

from __future__ import annotations

import pytest

from pipeline_model.hcl_types import HclTypeError, parse_type, undeclared_keys, variable_types

VARIABLES = '''
variable "plain" {
  description = "a { brace } and \\"quote\\" in text"
  type        = string
}

variable "untyped" {
  default = { type = "not the type" }
}

variable "statements" {
  description = <<-EOT
    type = number   (inside a heredoc: not the type)
  EOT
  type = map(object({
    sid    = optional(string)
    effect = optional(string, "Allow")
    # a comment between attributes
    condition = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
    tags = optional(map(string), {})  // trailing comment
  }))
  default = null

  validation {
    condition     = var.statements == null || length(var.statements) > 0
    error_message = "type = bool is not the type either."
  }
}

variable "pair" {
  type = tuple([string, set(number)])
}
'''


def test_variable_types_of_a_variables_file():
    types = variable_types(VARIABLES)
    assert types["plain"] == "string" and types["untyped"] == "any"
    assert types["pair"] == ["tuple", ["string", ["set", "number"]]]
    assert types["statements"] == ["map", ["object", {
        "sid": "string",
        "effect": "string",
        "condition": ["list", ["object", {"test": "string", "variable": "string", "values": ["list", "string"]}, []]],
        "tags": ["map", "string"],
    }, ["condition", "effect", "sid", "tags"]]]


@pytest.mark.parametrize(
    "text, message",
    [
        ("list(strng)", "type: 'strng' is not a Terraform type"),
        ("object({a string})", "type: expected '=' after object attribute 'a'"),
        ("optional(string)", "type: optional(...) is only allowed for an object's attribute"),
        ("map(string", "type: the type expression ends early"),
        ("string string", "type: unexpected 'string' after the type"),
    ],
)
def test_unreadable_types_are_named(text, message):
    with pytest.raises(HclTypeError) as raised:
        parse_type(text)
    assert str(raised.value) == message


def test_undeclared_keys_at_any_depth():
    statements = variable_types(VARIABLES)["statements"]
    value = {
        "deny": {"effect": "Deny", "conditions": [{"test": "Bool"}]},
        "allow": {"condition": [{"test": "Bool", "variable": "v", "values": ["x"], "vaules": ["y"]}]},
        "late": "${var.other}",
    }
    assert undeclared_keys(value, statements, "s") == [
        "s.deny: 'conditions' is not an attribute of the module's type "
        "(declared: condition, effect, sid, tags); Terraform would drop it silently",
        "s.allow.condition[0]: 'vaules' is not an attribute of the module's type "
        "(declared: test, values, variable); Terraform would drop it silently",
    ]
    # map(string) values and 'any' are not objects: any key goes
    assert undeclared_keys({"ok": {"tags": {"anything": "x"}}}, statements, "s") == []
    assert undeclared_keys({"whatever": {"deep": 1}}, "any", "s") == []
