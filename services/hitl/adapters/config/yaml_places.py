"""Where a value sits in a YAML document: the line and column of a path such as
``("route", "routes", 1, "receivers", 0)``, so a config error can say ``routing.yaml:14:9``."""

from collections.abc import Sequence

import yaml

Path = Sequence[str | int]


def compose(text: str) -> yaml.Node | None:
    return yaml.compose(text, Loader=yaml.SafeLoader)


def place(root: yaml.Node | None, path: Path) -> tuple[int, int] | None:
    """(line, column), 1-based, of the deepest node of ``path`` found in the document. Steps
    that are not in the document (pydantic's union tags, say) are skipped."""
    node = root
    found = node
    for step in path:
        child = _child(node, step)
        if child is None:
            continue
        node = found = child
    if found is None:
        return None
    return found.start_mark.line + 1, found.start_mark.column + 1


def _child(node: yaml.Node | None, step: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(step):
                return value  # type: ignore[no-any-return]
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        return node.value[step]  # type: ignore[no-any-return]
    return None


def parse_path(dotted: str) -> list[str | int]:
    """``route.routes[1].receivers`` -> ["route", "routes", 1, "receivers"]."""
    out: list[str | int] = []
    for part in dotted.replace("]", "").split("."):
        name, *indexes = part.split("[")
        if name:
            out.append(name)
        out += [int(i) for i in indexes]
    return out
