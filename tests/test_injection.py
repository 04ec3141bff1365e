"""Configuration text never becomes Terraform code (issue 10, item 7).

Terraform evaluates every string of cdk.tf.json as a template: a value holding ``${...}`` or
``%{...}`` would be interpolated (``${file("secrets.txt")}`` reads a file). Each string field of
the configuration model is either rejected with a clear error or escaped so that Terraform
reads it literally. The walk below finds the string fields by introspecting the model, so a
field added later is covered without anyone remembering to list it.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import types
import typing
from typing import Any, Literal, Union

import pytest
from pydantic import BaseModel

from pipeline_model.config import ConfigError, PipelineConfig, build_config
from pipeline_model.literal import terraform_literal

PAYLOADS = ['${file("x")}', "%{ if true }", "%{if}"]
KEY, VALUE = object(), object()  # path markers: a dict's key / a dict's value
#: A valid configuration with every optional part present, so every field can be reached.
BASE: dict[str, Any] = {
    "alarms": {"email": "ops@example.com"},
    "backend": {"bucket": "state-bucket", "dynamodb_table": "locks"},
    "security": {"key_users": ["arn:aws:iam::123456789012:role/ops"]},
    "subscribers": [{"name": "a", "filter_policy": {"k": ["v"]}}],
    "producer": {"message_attributes": ["k"]},  # the filter policy's attribute is one the producer sends
}


def string_paths(annotation: Any, path: tuple = ()) -> typing.Iterator[tuple]:
    """Every place in the model where configuration supplies a string."""
    origin = typing.get_origin(annotation)
    if annotation is str:
        yield path
    elif origin is Literal:
        if any(isinstance(arg, str) for arg in typing.get_args(annotation)):
            yield path
    elif origin in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            yield from string_paths(arg, path)
    elif origin is list:
        yield from string_paths(typing.get_args(annotation)[0], path + (0,))
    elif origin is dict:
        key, value = typing.get_args(annotation)
        yield from string_paths(key, path + (KEY,))
        yield from string_paths(value, path + (VALUE,))
    elif annotation is Any:  # filter policies: attribute -> list of values
        yield path + (0,)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, field in annotation.model_fields.items():
            yield from string_paths(field.annotation, path + (name,))


def place(path: tuple, value: str) -> dict[str, Any]:
    """BASE with ``value`` at ``path``."""
    data = copy.deepcopy(BASE)
    node: Any = data
    for step, following in zip(path, path[1:] + (None,)):
        if following is KEY:
            old = node.get(step) if isinstance(node.get(step), dict) and node.get(step) else {"k": ["v"]}
            node[step] = {value: next(iter(old.values()))}
            return data
        if following is VALUE:
            node[step] = {"k": value} if path[-1] is VALUE else {"k": []}
            node = node[step]
            continue
        if step is VALUE:
            step = "k"
        if following is None:
            node[step] = value
            return data
        if isinstance(node, list):
            node = node[step]
        else:
            node = node.setdefault(step, [{}] if following == 0 else {})
            if following == 0 and not node:
                node.append({})
    return data


def field_name(path: tuple) -> str:
    """The dotted field path a rejection must name (up to the first dict key/value)."""
    parts = []
    for step in path:
        if step is KEY or step is VALUE:
            break
        parts.append(str(step))
    if parts and parts[-1] == "0" and path[len(parts) - 1] == 0 and len(parts) > 1 and parts[-2] != "subscribers":
        parts.pop()  # a list of strings (key_users) or a filter policy's values: the field itself
    return ".".join(parts)


def _base_text(path: tuple) -> str:
    node: Any = BASE
    for step in path:
        if step is KEY or step is VALUE:
            return ""
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return ""
    return node if isinstance(node, str) else ""


def _candidates(path: tuple, payload: str) -> list[str]:
    base = _base_text(path)
    out = [payload + base] if base else [payload]
    out.append(json.dumps({"k": [payload]}))  # fields that take JSON text (a filter policy)
    return out


PATHS = sorted(set(string_paths(PipelineConfig)), key=lambda p: [str(s) for s in p])


def _outcomes() -> tuple[list[tuple[tuple, str, str, dict]], list[tuple[tuple, str, str]]]:
    """(path, payload, value, config data) accepted; (path, value, error message) rejected."""
    accepted, rejected = [], []
    for path in PATHS:
        for payload in PAYLOADS:
            for candidate in _candidates(path, payload):
                data = place(path, candidate)
                try:
                    build_config(data)
                except ConfigError as error:
                    rejected.append((path, candidate, str(error)))
                else:
                    accepted.append((path, payload, candidate, data))
    return accepted, rejected


ACCEPTED, REJECTED = _outcomes()


def test_the_walk_reaches_every_kind_of_string_field():
    names = {field_name(path) for path in PATHS}
    assert {"alarms.email", "tags", "backend.key", "backend.bucket", "subscribers.0.filter_policy",
            "security.key_users", "region", "stack_name", "subscribers.0.queue_name", "powertools_layer"} <= names
    assert len(PATHS) >= 30


def test_rejected_values_name_their_field():
    assert len(REJECTED) > 50
    for path, candidate, message in REJECTED:
        assert message.startswith("invalid pipeline configuration:\n"), (candidate, message)
        assert f"  {field_name(path)}" in message, (candidate, message)


def _unescaped(text: str) -> list[str]:
    """Template sequences Terraform would evaluate in ``text`` (``$${``/``%%{`` are literal)."""
    found, i = [], 0
    while i < len(text):
        if text.startswith(("$${", "%%{"), i):
            i += 3
        elif text.startswith(("${", "%{"), i):
            found.append(text[i:i + 12])
            i += 2
        else:
            i += 1
    return found


def _strings(node: Any) -> typing.Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _batches() -> list[tuple[dict, list[tuple[tuple, str]]]]:
    """The accepted values in as few configurations as fit (each subscriber case as its own
    subscriber; a top-level field once per configuration), so that a few syntheses check them all."""
    batches = []
    for payload in PAYLOADS:
        open_batches: list[tuple[dict[str, Any], set[str], list]] = []
        for path, used, candidate, case in ACCEPTED:
            if used != payload or {"package_include", "package_exclude"} & set(map(str, path)):
                continue  # (package patterns choose the files to zip; they never reach the Terraform JSON)
            if path[0] == "subscribers":
                target = open_batches[0] if open_batches else None
            else:
                target = next((b for b in open_batches if path[0] not in b[1]), None)
            if target is None:
                data: dict[str, Any] = copy.deepcopy(BASE)
                data["subscribers"] = []
                target = (data, set(), [])
                open_batches.append(target)
            data, changed, cases = target
            if path[0] == "subscribers":
                data["subscribers"].append({**case["subscribers"][0], "name": f"s{len(data['subscribers'])}"})
            else:
                changed.add(path[0])
                data[path[0]] = case[path[0]]
            cases.append((path, candidate))
        for data, _, cases in open_batches:
            data["subscribers"] = data["subscribers"] or BASE["subscribers"]
            batches.append((data, cases))
    return batches


def test_accepted_values_reach_the_json_escaped_and_whole(synth_config):
    assert {field_name(p) for p, *_ in ACCEPTED} >= {"alarms.email", "subscribers.0.filter_policy"}
    for data, cases in _batches():
        doc = synth_config([build_config(data)]).only
        strings = list(_strings(doc))
        evaluated = [s for text in strings for s in _unescaped(text)]
        # What remains evaluated are cdktf's own references (${module...}, ${data...}, ${aws_...}).
        assert all(s.startswith(("${module.", "${data.", "${aws_")) for s in evaluated), evaluated
        for path, candidate in cases:
            # The value is there, escaped (inside JSON text such as a filter policy, JSON-encoded too).
            encoded = [candidate]
            for _ in range(2):
                encoded.append(json.dumps(encoded[-1])[1:-1])
            needles = [terraform_literal(text) for text in encoded]
            assert any(n in text for text in strings for n in needles), f"{field_name(path)}: {candidate!r} lost"


def test_escaping_is_read_back_literally_by_terraform(tmp_path):
    """``$${`` and ``%%{`` are Terraform's escapes: the text comes back exactly, never evaluated."""
    terraform = shutil.which("terraform")
    if not terraform:
        pytest.skip("no terraform binary on PATH")
    (tmp_path / "x").write_text("SECRET")
    texts = ['${file("x")}', "%{ if true }yes%{ endif }", "a$${b}c%%{d}e", "$$$${x}", "100%{", "$", "%", "{}"]
    outputs = {f"o{i}": {"value": terraform_literal(text)} for i, text in enumerate(texts)}
    (tmp_path / "main.tf.json").write_text(json.dumps({"output": outputs}))
    env = {"TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    for command in (["init", "-input=false"], ["apply", "-auto-approve", "-input=false"]):
        result = subprocess.run([terraform, f"-chdir={tmp_path}", *command], capture_output=True, text=True,
                                env=env, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
    shown = subprocess.run([terraform, f"-chdir={tmp_path}", "output", "-json"], capture_output=True, text=True,
                           env=env, timeout=60)
    values = {name: item["value"] for name, item in json.loads(shown.stdout).items()}
    assert values == {f"o{i}": text for i, text in enumerate(texts)}


# --- cdktf tokens: refused in every string (issue 20) ----------------------------------------------------

#: cdktf's token placeholders (cdktf/lib/tokens/private/encoding.js) and the AWS CDK's.
TOKENS = ["${TfToken[TOKEN.1]}", "#{TfToken[TOKEN.2]}", "&{TfToken[TOKEN.3]}", "${Token[TOKEN.4]}",
          "${TfToken[TOKEN.99999]}"]


@pytest.mark.parametrize("token", TOKENS)
def test_a_token_is_refused_in_every_string_field_naming_it(token):
    """Every place the model takes a string (keys of tables too, values inside filter-policy JSON text):
    a token there was accepted and became a live reference (or a jsii traceback) at synth."""
    for path in PATHS:
        for candidate in _candidates(path, token):
            with pytest.raises(ConfigError) as caught:
                build_config(place(path, candidate))
            message = str(caught.value)
            assert f"  {field_name(path)}" in message, (path, candidate, message)
            assert all(line.startswith("  ") for line in message.splitlines()[1:]), message  # no forged line


def test_token_error_names_the_exact_field_and_rule():
    with pytest.raises(ConfigError) as caught:
        build_config(BASE, alarms={"email": "${TfToken[TOKEN.7]}@example.com"})
    (line,) = caught.value.lines()
    assert line.startswith("alarms.email: '${TfToken[TOKEN.7]}@example.com' is a cdktf token"), line
    policy = json.dumps({"k": ["#{TfToken[TOKEN.3]}"]})
    with pytest.raises(ConfigError, match=r"subscribers\.0\.filter_policy\.k\.0: .*cdktf token"):
        build_config(BASE, subscribers=[{"name": "a", "filter_policy": policy}])


def test_a_number_token_is_refused():
    from pipeline_model.config.text import is_number_token

    number_token = -1.8881545897087626e+289  # how cdktf encodes a number token (top bits 0xfdff)
    assert is_number_token(number_token) and not is_number_token(1e9) and not is_number_token(-1.5e289)
    with pytest.raises(ConfigError, match=r"subscribers\.0\.filter_policy\.k\.0: .*number-token"):
        build_config(BASE, subscribers=[{"name": "a", "filter_policy": {"k": [number_token]}}])


def test_template_syntax_stays_data_while_tokens_are_refused():
    """The decision: ``${``/``%{`` are kept (escaped for Terraform); only cdktf's encodings are refused."""
    config = build_config(BASE, alarms={"email": "${x}@example.com"})
    assert config.alarms.email == "${x}@example.com"


def test_check_text_and_check_tree_for_props():
    from pipeline_model.config.text import check_text, check_tree

    assert check_text("plain ${x} %{y}", "f") is None
    found = check_text("a${TfToken[TOKEN.1]}", "props.queue_name")
    assert found is not None and found.field == "props.queue_name"
    nested = check_tree({"tags": {"${Token[TOKEN.1]}": "v"}}, "props")
    assert nested is not None and nested.field == "props.tags.'${Token[TOKEN.1]}'"
    assert check_tree({"a": [1, "b", {"c": 2.5}]}) is None
