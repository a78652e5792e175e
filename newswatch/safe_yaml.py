"""Bounded YAML for ``sources.yaml``: a hostile or broken file costs milliseconds and ends in a
``file:line`` message, never in a traceback or a run that does not finish.

Bounds: the file's size (:data:`MAX_FILE_BYTES`), nesting depth (:data:`MAX_DEPTH`), and the
number of nodes the document stands for once every alias is expanded (:data:`MAX_NODES`),
computed on the node graph without expanding it, so an alias bomb ("billion laughs") is refused
in linear time. Recursive aliases, tags other than YAML's standard ones (``!!python/object``...),
and characters YAML does not allow (NUL, other control characters) are refused too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 32
MAX_NODES = 100_000
_STANDARD_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("map", "seq", "str", "int", "float", "bool", "null", "timestamp", "binary", "merge", "omap", "pairs", "set")
)


class YamlProblem(ValueError):
    """The document is not acceptable: ``line`` and ``column`` (1-based, 0 when unknown), ``reason``."""

    def __init__(self, line: int, reason: str, column: int = 0):
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.column = column
        self.reason = reason

    def where(self, path: Path) -> str:
        """``path:line:column``, ``path:line`` or ``path``, as far as known."""
        where = str(path)
        if self.line:
            where += f":{self.line}" + (f":{self.column}" if self.column else "")
        return where


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader that refuses documents nested deeper than :data:`MAX_DEPTH`."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YamlProblem(mark.line + 1, f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def read_text(path: Path) -> str:
    """The file's text; YamlProblem if it is larger than :data:`MAX_FILE_BYTES` or not UTF-8.

    Raises OSError when it cannot be read.
    """
    with path.open("rb") as stream:
        raw = stream.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise YamlProblem(0, f"the file is larger than {MAX_FILE_BYTES:,} bytes; is it the right file?")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise YamlProblem(line, f"not UTF-8 text: {err.reason} at byte {err.start}") from None


def compose(text: str) -> yaml.Node | None:
    """The node graph of ``text`` (None when empty); YamlProblem for every bound it breaks."""
    loader = None
    try:
        loader = _BoundedLoader(text)
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        raise YamlProblem(line, f"YAML syntax error: {err.problem or err.context}", column) from None
    except yaml.reader.ReaderError as err:
        line = text[: err.position].count("\n") + 1
        char = chr(err.character) if isinstance(err.character, int) else err.character
        raise YamlProblem(line, f"character {char!r} is not allowed in YAML (position {err.position})") from None
    except yaml.YAMLError as err:
        raise YamlProblem(0, f"YAML error: {err}") from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is not None:
        _check_graph(node)
    return node


def construct(node: yaml.Node) -> Any:
    """Python data of a node graph made by :func:`compose`."""
    loader = _BoundedLoader("")
    try:
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise YamlProblem(mark.line + 1 if mark else 0, f"{err.problem or err.context}") from None
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_graph(root: yaml.Node) -> None:
    """Refuse unknown tags, recursive aliases, more than :data:`MAX_NODES` expanded nodes and
    aliases that nest deeper than :data:`MAX_DEPTH` once expanded.

    Walks the graph once (iteratively): each node's expanded size is computed from its
    children's, so shared (aliased) nodes are counted as often as they are used without being
    walked again.
    """
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(child)] for child in _children(node))
            height[key] = 1 + max((height[id(child)] for child in _children(node)), default=0)
            if height[key] > MAX_DEPTH:
                raise YamlProblem(node.start_mark.line + 1, f"nested deeper than {MAX_DEPTH} levels (through aliases)")
            if size[key] > MAX_NODES:
                raise YamlProblem(
                    node.start_mark.line + 1,
                    f"the document expands to more than {MAX_NODES:,} values (aliases reused too often:"
                    " an alias bomb?)",
                )
            continue
        if key in size:
            continue
        if node.tag not in _STANDARD_TAGS:
            raise YamlProblem(node.start_mark.line + 1, f"tag {node.tag!r} is not allowed (plain YAML only)")
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                raise YamlProblem(child.start_mark.line + 1, "recursive alias: a node contains itself")
            if id(child) not in size:
                stack.append((child, False))
