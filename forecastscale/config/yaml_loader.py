"""Read a config file's YAML strictly: whatever the file holds, the result is data or a :class:`ConfigError`.

PyYAML's ``safe_load`` is safe from code execution but not from surprises, so this loader also refuses:

* files over :data:`MAX_CONFIG_BYTES` (before parsing) and text that is not UTF-8 (a BOM is accepted);
* anchors and aliases (``&a``/``*a``): a 486-byte alias bomb expands to gigabytes, and a config has no
  need for them; merge keys (``<<``) go with them;
* duplicate keys in one mapping (PyYAML silently keeps the last one);
* nesting deeper than :data:`MAX_YAML_DEPTH` (PyYAML's composer recurses: deep nesting is a RecursionError);
* a value its tag cannot build (``!!int 1.5``, ``!!timestamp 2024-02-30``): the error names the line.

Plain scalars that look like dates (``2024-02-30``) stay strings: no config field is a date, and a
date a person meant as a label value should not become a ``datetime``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node

from forecastscale.edge import escaped, shown
from forecastscale.errors import ConfigError

MAX_CONFIG_BYTES = 4 * 2**20  # a config with a thousand targets is ~1 MB
MAX_YAML_DEPTH = 32  # configs nest five or six levels
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML this reader does not accept; ``problem`` says why, ``problem_mark`` where."""


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` without anchors, aliases, merge keys, duplicate keys, implicit dates or deep nesting."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(problem="YAML anchors/aliases are not supported", problem_mark=event.start_mark)
        if self._depth >= MAX_YAML_DEPTH:
            raise _Refused(problem=f"nested more than {MAX_YAML_DEPTH} levels deep", problem_mark=event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        # A tag's constructor refused the text, with whatever it hit first: ValueError (!!int 1.5), AttributeError
        # (!!timestamp on a non-date: its regex did not match), IndexError (!!int ''), OverflowError.
        except (ValueError, TypeError, OverflowError, AttributeError, IndexError, KeyError) as exc:
            raise ConstructorError(problem=f"cannot read {shown(node.value, 40)} as {node.tag.rsplit(':', 1)[-1]} "
                                   f"({escaped(str(exc), 80)})", problem_mark=node.start_mark) from exc

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            _check_keys(self, node)
        return super().construct_mapping(node, deep)


# A copy of SafeLoader's resolvers without the timestamp one (assigning, not add_implicit_resolver, leaves
# SafeLoader itself untouched).
StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _check_keys(loader: StrictLoader, node: MappingNode) -> None:
    """Refuse merge keys and a key that appears twice in one mapping (naming the key and both lines)."""
    seen: dict[Any, int] = {}  # key → its line (0-based)
    for key_node, _ in node.value:
        if key_node.tag == _MERGE:
            raise _Refused(problem="YAML merge keys (<<) are not supported", problem_mark=key_node.start_mark)
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: SafeConstructor reports it with its line
            continue
        if first is not None:  # ({a: 1, a: 2} has both on one line: compare keys, not lines)
            raise _Refused(problem=f"duplicate key {shown(key, 60)} (first on line {first + 1})",
                           problem_mark=key_node.start_mark)
        seen[key] = key_node.start_mark.line


def read_text(path: Path) -> str:
    """The text of config file ``path``, refused if larger than :data:`MAX_CONFIG_BYTES` or not UTF-8."""
    source = str(path)
    try:
        with path.open("rb") as fh:
            raw: bytes = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(source, [f"cannot read file: {exc.strerror or exc}"]) from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(source, [f"file is larger than {MAX_CONFIG_BYTES:,} bytes; not a config"])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, [f"not UTF-8 text ({exc.reason} at byte {exc.start})"]) from exc


def parse_yaml(text: str, source: str) -> Any:
    """``text`` parsed by :class:`StrictLoader`; every failure is a :class:`ConfigError` naming the line."""
    try:
        return yaml.load(text, Loader=StrictLoader)
    except _Refused as exc:
        raise ConfigError(source, [f"{_line(exc)}{exc.problem}"]) from exc
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or exc
        raise ConfigError(source, [f"{_line(exc)}not valid YAML: {escaped(str(problem), 200)}"]) from exc
    except RecursionError as exc:  # cannot happen after the depth check; kept as a last line
        raise ConfigError(source, [f"nested too deeply (at most {MAX_YAML_DEPTH} levels)"]) from exc
    except (ValueError, TypeError, OverflowError) as exc:  # a constructor outside construct_object
        raise ConfigError(source, [f"not valid YAML: {escaped(str(exc), 200)}"]) from exc


def _line(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return f"line {mark.line + 1}: " if mark is not None else ""
