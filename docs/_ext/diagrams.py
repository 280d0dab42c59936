"""
A small Sphinx extension that draws the diagrams of the sosw docs as SVG at build time, from sources kept in
``docs/diagrams/``: no binary tool (Graphviz and the like), no image checked in.

A source is either JSON (``<name>.json``) or Python (``<name>.py`` with a function ``diagram()`` returning the same
structure, for diagrams whose numbers come from the code, like the greenfield timeline from ``sosw.constants``)::

    {
      "title": "What the diagram shows (the SVG <title>)",
      "width": 960, "height": 420,
      "nodes": [{"id": "scheduler", "label": "Scheduler\\nchunks the job", "x": 330, "y": 70, "w": 160, "h": 54,
                 "style": "essential"}],
      "edges": [{"from": "job", "to": "scheduler", "label": "job", "via": [[200, 70]], "dashed": false}],
      "bands": [{"x0": 40, "x1": 300, "y": 120, "h": 40, "label": "queued", "style": "queued"}],
      "ticks": [{"x": 300, "y0": 100, "y1": 170, "label": "S", "sublabel": "now"}],
      "texts": [{"x": 10, "y": 20, "text": "note", "anchor": "start", "size": 12, "weight": "bold"}]
    }

Nodes are placed by their centre; an edge goes from the border of one node to the border of the other, through the
``via`` points. Use it in a page::

    .. diagram:: workflow
       :caption: The essential workflow.

The SVG is inlined in the HTML page (so it needs no file next to it and scales with the page) and also written to
``_images/diagrams/<name>.svg`` in the output, for reuse elsewhere.
"""

import html
import importlib.util
import json
import math
from pathlib import Path
from typing import Any, Dict, List, Tuple

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

SOURCE_DIR = "diagrams"
OUTPUT_DIR = Path("_images") / "diagrams"
FONT = "font-family='Helvetica, Arial, sans-serif'"
CHAR_WIDTH = 0.56  # average glyph width in em, for label backgrounds
LINE_HEIGHT = 1.25

#: Fill and stroke by style name.
STYLES: Dict[str, Tuple[str, str]] = {
    "essential": ("#dbeafe", "#1d4ed8"),
    "worker": ("#dcfce7", "#15803d"),
    "table": ("#fef3c7", "#b45309"),
    "external": ("#f3f4f6", "#4b5563"),
    "state": ("#e0e7ff", "#4338ca"),
    "good": ("#dcfce7", "#15803d"),
    "bad": ("#fee2e2", "#b91c1c"),
    "warn": ("#ffedd5", "#c2410c"),
    "queued": ("#e0f2fe", "#0369a1"),
    "plain": ("#ffffff", "#374151"),
}


class DiagramError(ValueError):
    """A diagram source is malformed; the message names the source and the element."""


def load_source(source_dir: Path, name: str) -> Tuple[Dict[str, Any], Path]:
    """The spec of diagram ``name`` and the file it came from (``<name>.json`` or ``<name>.py``)."""
    json_path, py_path = source_dir / f"{name}.json", source_dir / f"{name}.py"
    if json_path.is_file():
        try:
            return json.loads(json_path.read_text(encoding="utf-8")), json_path
        except ValueError as err:
            raise DiagramError(f"{json_path}: not valid JSON ({err})") from None
    if py_path.is_file():
        spec = importlib.util.spec_from_file_location(f"sosw_docs_diagram_{name}", py_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not callable(getattr(module, "diagram", None)):
            raise DiagramError(f"{py_path}: has no function diagram()")
        return module.diagram(), py_path
    raise DiagramError(f"no diagram source {name}.json or {name}.py in {source_dir}")


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _lines(text: str) -> List[str]:
    return str(text).split("\n")


def _text(x: float, y: float, text: str, size: float = 13, anchor: str = "middle", weight: str = "normal",
          colour: str = "#111827", valign: str = "middle") -> str:
    """A (multi-line) text block whose lines are centred on ``y`` (valign middle) or start at ``y`` (top)."""
    lines = _lines(text)
    step = size * LINE_HEIGHT
    first = y - step * (len(lines) - 1) / 2 if valign == "middle" else y
    spans = "".join(
        f"<tspan x='{x:.1f}' y='{first + i * step:.1f}'>{_esc(line)}</tspan>" for i, line in enumerate(lines)
    )
    return (f"<text {FONT} font-size='{size}' font-weight='{weight}' fill='{colour}' text-anchor='{anchor}' "
            f"dominant-baseline='central'>{spans}</text>")


def _label_height(text: str, size: float = 11.5) -> float:
    return len(_lines(text)) * size * LINE_HEIGHT + 4


def _label_box(x: float, y: float, text: str, size: float = 11.5) -> str:
    """A label on a white box, so it stays readable over lines."""
    lines = _lines(text)
    width = max(len(line) for line in lines) * size * CHAR_WIDTH + 8
    height = _label_height(text, size)
    return (f"<rect x='{x - width / 2:.1f}' y='{y - height / 2:.1f}' width='{width:.1f}' height='{height:.1f}' "
            f"rx='3' fill='#ffffff' fill-opacity='0.92'/>" + _text(x, y, text, size, colour="#374151"))


def _node_label(node: Dict[str, Any]) -> str:
    """The first line of a node's label in bold, the others smaller below it, the block centred in the node."""
    title, *rest = _lines(node["label"])
    size, small = node.get("size", 13.5), 11.5
    height = size * LINE_HEIGHT + len(rest) * small * LINE_HEIGHT
    top = node["y"] - height / 2 + (4 if node.get("style") == "table" else 0)
    result = _text(node["x"], top + size * LINE_HEIGHT / 2, title, size, weight="bold")
    if rest:
        result += _text(node["x"], top + size * LINE_HEIGHT + small * LINE_HEIGHT / 2, "\n".join(rest), small,
                        colour="#374151", valign="top")
    return result


def _border_point(node: Dict[str, Any], towards: Tuple[float, float]) -> Tuple[float, float]:
    """Where the segment from the node's centre to ``towards`` leaves its rectangle."""
    cx, cy, hw, hh = node["x"], node["y"], node["w"] / 2, node["h"] / 2
    dx, dy = towards[0] - cx, towards[1] - cy
    if dx == 0 and dy == 0:
        return cx, cy
    scale = min(hw / abs(dx) if dx else math.inf, hh / abs(dy) if dy else math.inf)
    return cx + dx * scale, cy + dy * scale


def _require(item: Dict[str, Any], keys: Tuple[str, ...], what: str) -> None:
    missing = [key for key in keys if key not in item]
    if missing:
        raise DiagramError(f"{what}: missing {', '.join(missing)} in {item!r}")


def render(spec: Dict[str, Any], name: str = "diagram") -> str:
    """The SVG text of a diagram spec.

    :raises DiagramError: A node lacks a field, or an edge names an unknown node.
    """
    width, height = spec.get("width", 960), spec.get("height", 400)
    title = spec.get("title", name)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' class='sosw-diagram' viewBox='0 0 {width} {height}' "
        f"width='{width}' height='{height}' role='img' aria-labelledby='{name}-title'>",
        f"<title id='{name}-title'>{_esc(title)}</title>",
        f"<defs><marker id='arrow-{name}' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='7' markerHeight='7' "
        "orient='auto-start-reverse'><path d='M 0 0 L 10 5 L 0 10 z' fill='#374151'/></marker></defs>",
        f"<rect width='{width}' height='{height}' fill='#ffffff'/>",
    ]
    for band in spec.get("bands", []):
        _require(band, ("x0", "x1", "y", "h"), f"{name}: band")
        fill, stroke = STYLES.get(band.get("style", "plain"), STYLES["plain"])
        parts.append(f"<rect x='{band['x0']}' y='{band['y']}' width='{band['x1'] - band['x0']}' height='{band['h']}' "
                     f"fill='{fill}' stroke='{stroke}'/>")
        if band.get("label"):
            parts.append(_text((band["x0"] + band["x1"]) / 2, band["y"] + band["h"] / 2, band["label"],
                               band.get("size", 12.5), weight="bold", colour=stroke))
    for tick in spec.get("ticks", []):
        _require(tick, ("x", "y0", "y1"), f"{name}: tick")
        dash = " stroke-dasharray='4 3'" if tick.get("dashed") else ""
        parts.append(f"<line x1='{tick['x']}' y1='{tick['y0']}' x2='{tick['x']}' y2='{tick['y1']}' stroke='#111827' "
                     f"stroke-width='1.5'{dash}/>")
        if tick.get("label"):
            label_lines = len(_lines(tick["label"]))
            parts.append(_text(tick["x"], tick["y0"] - 10 - 15 * (label_lines - 1), tick["label"], 12,
                               weight="bold", valign="top"))
        if tick.get("sublabel"):
            parts.append(_text(tick["x"], tick["y1"] + 10, tick["sublabel"], 11.5, colour="#374151", valign="top"))
    by_id: Dict[str, Dict[str, Any]] = {}
    for node in spec.get("nodes", []):
        _require(node, ("id", "label", "x", "y", "w", "h"), f"{name}: node")
        if node["id"] in by_id:
            raise DiagramError(f"{name}: node id {node['id']!r} is used twice")
        by_id[node["id"]] = node
    edge_parts: List[str] = []
    label_parts: List[str] = []
    for edge in spec.get("edges", []):
        _require(edge, ("from", "to"), f"{name}: edge")
        for end in ("from", "to"):
            if edge[end] not in by_id:
                raise DiagramError(f"{name}: edge {end} unknown node {edge[end]!r}; known: {sorted(by_id)}")
        start, end = by_id[edge["from"]], by_id[edge["to"]]
        via = [tuple(point) for point in edge.get("via", [])]
        first_target = via[0] if via else (end["x"], end["y"])
        last_source = via[-1] if via else (start["x"], start["y"])
        points = [_border_point(start, first_target), *via, _border_point(end, last_source)]
        path = " ".join(f"{'M' if i == 0 else 'L'} {x:.1f} {y:.1f}" for i, (x, y) in enumerate(points))
        dash = " stroke-dasharray='6 4'" if edge.get("dashed") else ""
        both = f" marker-start='url(#arrow-{name})'" if edge.get("both") else ""
        edge_parts.append(f"<path d='{path}' fill='none' stroke='#374151' stroke-width='1.6'{dash}{both} "
                          f"marker-end='url(#arrow-{name})'/>")
        if edge.get("label"):
            if "label_at" in edge:
                lx, ly = edge["label_at"]
            else:
                segments = list(zip(points, points[1:]))
                (x1, y1), (x2, y2) = max(segments, key=lambda s: math.dist(*s))
                lx, ly = (x1 + x2) / 2, (y1 + y2) / 2
                if abs(y2 - y1) < 0.4 * abs(x2 - x1):  # along a horizontal-ish line: above it, off the arrowheads
                    ly -= _label_height(edge["label"]) / 2 + 2
            label_parts.append(_label_box(lx, ly, edge["label"]))
    parts += edge_parts
    for node in by_id.values():
        fill, stroke = STYLES.get(node.get("style", "plain"), STYLES["plain"])
        x, y, w, h = node["x"] - node["w"] / 2, node["y"] - node["h"] / 2, node["w"], node["h"]
        if node.get("style") == "table":
            parts.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{w}' height='{h}' fill='{fill}' stroke='{stroke}' "
                         f"stroke-width='1.6'/><line x1='{x:.1f}' y1='{y + 9:.1f}' x2='{x + w:.1f}' y2='{y + 9:.1f}' "
                         f"stroke='{stroke}'/>")
        else:
            parts.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{w}' height='{h}' rx='9' fill='{fill}' "
                         f"stroke='{stroke}' stroke-width='1.6'/>")
        parts.append(_node_label(node))
    parts += label_parts
    for text in spec.get("texts", []):
        _require(text, ("x", "y", "text"), f"{name}: text")
        parts.append(_text(text["x"], text["y"], text["text"], text.get("size", 12), text.get("anchor", "middle"),
                           text.get("weight", "normal"), text.get("colour", "#374151"), text.get("valign", "middle")))
    parts.append("</svg>")
    return "\n".join(parts)


class diagram_node(nodes.General, nodes.Element):
    """A rendered diagram: ``svg`` (text), ``name``, ``caption``."""


class DiagramDirective(SphinxDirective):
    """``.. diagram:: NAME`` with optional ``:caption:``."""

    required_arguments = 1
    has_content = False
    option_spec = {"caption": directives.unchanged}

    def run(self) -> List[nodes.Node]:
        name = self.arguments[0]
        source_dir = Path(self.env.srcdir) / SOURCE_DIR
        try:
            spec, path = load_source(source_dir, name)
            svg = render(spec, name)
        except DiagramError as err:
            raise self.error(str(err)) from None
        self.env.note_dependency(str(path))
        node = diagram_node(svg=svg, name=name, caption=self.options.get("caption", spec.get("title", name)))
        self.set_source_info(node)
        return [node]


def visit_diagram_html(self: Any, node: diagram_node) -> None:
    self.body.append(f"<figure class='sosw-diagram' id='diagram-{_esc(node['name'])}'>\n{node['svg']}\n"
                     f"<figcaption>{_esc(node['caption'])}</figcaption>\n</figure>\n")
    raise nodes.SkipNode


def visit_diagram_other(self: Any, node: diagram_node) -> None:
    raise nodes.SkipNode


def write_svg_files(app: Sphinx, exception: Any) -> None:
    """Write every diagram of the build as a file too, under ``_images/diagrams``."""
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / OUTPUT_DIR
    target.mkdir(parents=True, exist_ok=True)
    source_dir = Path(app.srcdir) / SOURCE_DIR
    for path in sorted(list(source_dir.glob("*.json")) + list(source_dir.glob("*.py"))):
        spec, _ = load_source(source_dir, path.stem)
        (target / f"{path.stem}.svg").write_text(render(spec, path.stem), encoding="utf-8")


def setup(app: Sphinx) -> Dict[str, Any]:
    app.add_node(diagram_node, html=(visit_diagram_html, None), latex=(visit_diagram_other, None),
                 text=(visit_diagram_other, None), man=(visit_diagram_other, None),
                 texinfo=(visit_diagram_other, None))
    app.add_directive("diagram", DiagramDirective)
    app.connect("build-finished", write_svg_files)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
