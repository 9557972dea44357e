"""Read YAML keeping line numbers, so a bad playbook, brand or FAQ file is reported as
`file:line: what is wrong` at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, overload

import yaml


class PlaybookError(ValueError):
    """A playbook folder file that cannot be used: the message names the file, the line and
    what is wrong."""

    def __init__(self, path: Path | str, line: int | None, problem: str):
        self.path, self.line, self.problem = str(path), line, problem
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {problem}")


class Mapping(dict):
    """A YAML mapping that remembers the line of itself and of each key (1-based)."""

    line: int = 0
    key_lines: dict

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class Sequence(list):
    """A YAML list that remembers the line of itself and of each item (1-based)."""

    line: int = 0
    item_lines: list

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _Loader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # duplicate keys silently overwrite in PyYAML; in a playbook that hides mistakes
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line + 1
        data = Mapping(super().construct_mapping(node, deep=True))
        data.line = node.start_mark.line + 1
        data.key_lines = seen
        return data

    def construct_sequence(self, node, deep=False):
        data = Sequence(super().construct_sequence(node, deep=True))
        data.line = node.start_mark.line + 1
        data.item_lines = [child.start_mark.line + 1 for child in node.value]
        return data


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _Loader.construct_sequence)


def load(path: Path) -> Any:
    """The file's data with line numbers on every mapping and list; PlaybookError if it is not
    readable YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlaybookError(path, None, f"cannot read: {exc}") from exc
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark else None
        raise PlaybookError(path, line, f"invalid YAML: {problem}") from exc


class Reader:
    """Typed access to one file's data that raises PlaybookError with the right line."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, node: Any, key: Any, problem: str) -> PlaybookError:
        line = None
        if isinstance(node, Mapping):
            line = node.line_of(key) if key is not None else node.line
        elif isinstance(node, Sequence):
            line = node.line_of(key) if isinstance(key, int) else node.line
        return PlaybookError(self.path, line, problem)

    def mapping(self, node: Any, key: str, where: str, required: bool = False) -> Mapping:
        value = node.get(key) if isinstance(node, dict) else None
        if value is None:
            if required:
                raise self.fail(node, None, f"{where}: '{key}' is missing")
            empty = Mapping()
            empty.line, empty.key_lines = getattr(node, "line", 0), {}
            return empty
        if not isinstance(value, Mapping):
            raise self.fail(node, key, f"{where}.{key} must be a mapping (key: value lines)")
        return value

    @overload
    def text(self, node: Mapping, key: str, where: str, required: Literal[True]) -> str: ...
    @overload
    def text(self, node: Mapping, key: str, where: str, required: bool = False) -> str | None: ...
    def text(self, node: Mapping, key: str, where: str, required: bool = False) -> str | None:
        value = node.get(key)
        if value is None:
            if required:
                raise self.fail(node, None, f"{where}: '{key}' is missing")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(node, key, f"{where}.{key} must be a non-empty text")
        return value.strip()

    def texts(self, node: Mapping, key: str, where: str) -> list[str]:
        """A list of texts; a single text is accepted as a list of one."""
        value = node.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(node, key, f"{where}.{key} must be a list of non-empty texts")
        return [v.strip() for v in value]

    def boolean(self, node: Mapping, key: str, where: str, default: bool) -> bool:
        value = node.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(node, key, f"{where}.{key} must be true or false, not {value!r}")
        return value

    @overload
    def number(
        self, node: Mapping, key: str, where: str, default: float, low: float, high: float
    ) -> float: ...
    @overload
    def number(
        self, node: Mapping, key: str, where: str, default: None, low: float, high: float
    ) -> float | None: ...
    def number(
        self, node: Mapping, key: str, where: str, default: float | None, low: float, high: float
    ) -> float | None:
        value = node.get(key, default)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not (low <= value <= high)
        ):
            raise self.fail(node, key, f"{where}.{key} must be a number from {low} to {high}")
        return value

    def choice(self, node: Mapping, key: str, where: str, options, default: str | None) -> str:
        """One of `options` (a missing key is `default`, itself refused when not an option)."""
        value: Any = node.get(key, default)
        if value not in options:
            raise self.fail(
                node, key, f"{where}.{key} must be one of {', '.join(options)}, not {value!r}"
            )
        return value

    def only(self, node: Mapping, allowed, where: str) -> None:
        for key in node:
            if key not in allowed:
                raise self.fail(
                    node, key, f"{where}: unknown key {key!r} (expected {', '.join(allowed)})"
                )
