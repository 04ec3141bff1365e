"""User-supplied text that must stay text: one check for every string of the configuration (and of
the constructs' props), so that no field can smuggle a cdktf token into the stack.

cdktf represents a value it only knows at deploy time (an ARN, a name, a list of them) by a
placeholder inside an ordinary string or number, and resolves every such placeholder it finds when it
writes the stack: a configuration string holding one would become a live reference to some other
resource (or, for an unknown one, a jsii traceback). The placeholders, as cdktf's token encoding
(``cdktf/lib/tokens/private/encoding.js``) writes them:

* strings: ``${TfToken[<key>]}``; lists of strings: ``#{TfToken[<key>]}``; maps: ``&{TfToken[<key>]}``
  (``<key>`` of ``a-zA-Z0-9:._-``, such as ``TOKEN.12``);
* ``${Token[...]}``: the same idea in the AWS CDK, which cdktf code and copied snippets also carry;
* numbers: a 64-bit float whose top 16 bits are ``0xfdff`` (a number token) or ``0xfbff`` (a list of
  numbers), i.e. values near -1.9e289.

Every such text is refused. Terraform's own template syntax (``${...}``, ``%{...}``) is not refused: it
is kept as data and escaped (``$${``, ``%%{``) where the text reaches the stack
(:mod:`pipeline_model.literal`), so a filter policy value or tag may hold it literally.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterator
from typing import Any

from ..errors import Problem

#: A cdktf (or AWS CDK) token placeholder anywhere in a text. Deliberately wider than cdktf's own
#: pattern (any key, any case, spaces): a near-miss is no legitimate configuration value either.
TOKEN_TEXT = re.compile(r"[$#&]\{\s*(?:Tf)?Token\s*\[", re.IGNORECASE)
#: The top 16 bits of a float64 that cdktf reads as a number token / a list-of-numbers token.
_NUMBER_TOKEN_TAGS = (0xFDFF, 0xFBFF)

_PLAIN_PART = re.compile(r"^[A-Za-z0-9_$-]{1,64}$")


def quote_part(part: Any) -> str:
    """One step of a field path in a message: plain names as they are, anything else as repr (so a key
    holding a newline or an escape sequence cannot break, forge or colour an error line)."""
    text = str(part)
    return text if _PLAIN_PART.fullmatch(text) else repr(text)


def quote_path(path: str | os.PathLike[str]) -> str:
    """A file name in a message: repr, so a newline in it cannot forge a line; a name that is not
    UTF-8 (its bytes decoded with surrogateescape) as its bytes, b'...'."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return repr(os.fsencode(text))
    return repr(text)


def check_text(value: str, field: str) -> Problem | None:
    """A Problem when ``value`` (the text of ``field``) holds a cdktf/CDK token placeholder, else None."""
    match = TOKEN_TEXT.search(value)
    if match is None:
        return None
    return Problem(
        field,
        f"{value[match.start():match.start() + 40]!r} is a cdktf token placeholder, which cdktf would replace "
        "by a reference to another resource",
        "write the value itself; configuration text cannot refer to resources",
    )


def is_number_token(value: float) -> bool:
    """Whether cdktf would read the float ``value`` as an encoded number token."""
    (bits,) = struct.unpack("<Q", struct.pack("<d", value))
    return bits >> 48 in _NUMBER_TOKEN_TAGS


def check_number(value: float, field: str) -> Problem | None:
    """A Problem when the number ``value`` is one cdktf would read as a token, else None."""
    if isinstance(value, float) and is_number_token(value):
        return Problem(field, f"{value!r} is a cdktf number-token encoding", "write the number itself")
    return None


def _nodes(tree: Any, field: str) -> Iterator[tuple[Any, str]]:
    """Every key and leaf of ``tree`` with its dotted field path (iterative: depth cannot exhaust the stack)."""
    stack: list[tuple[Any, str]] = [(tree, field)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                child = f"{path}.{quote_part(key)}" if path else quote_part(key)
                yield key, child
                stack.append((value, child))
        elif isinstance(node, (list, tuple)):
            stack.extend((value, f"{path}.{index}" if path else str(index)) for index, value in enumerate(node))
        else:
            yield node, path


def check_tree(tree: Any, field: str = "") -> Problem | None:
    """The first token placeholder among the strings (dict keys too) and numbers of ``tree``, as a Problem
    naming its field path; None when there is none. Use it on data or on a model's ``model_dump()``."""
    for value, path in _nodes(tree, field):
        if isinstance(value, str):
            found = check_text(value, path)
        elif isinstance(value, float):
            found = check_number(value, path)
        else:
            found = None
        if found is not None:
            return found
    return None


def refuse_tokens(model: Any) -> None:
    """The hook of the configuration models: raise ValueError("<field>: <rule>; <hint>") when any string
    or number of the validated ``model`` is a token (pydantic reports a ValueError under the field it names)."""
    found = check_tree(model.model_dump())
    if found is not None:
        raise ValueError(str(found))
