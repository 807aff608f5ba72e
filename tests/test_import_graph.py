"""The package's import graph: no cycles between modules, and layers that import downwards only.

Built with ``ast`` from the sources (every import, also those inside functions, except under
``if TYPE_CHECKING:``), so a lazy import that closes a loop counts as one.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "auepa_monitor"
#: Layers, lowest first: a package may import only packages to its left. ``nets`` is a leaf of
#: the program (only ``errors`` and ``model_card``); the core never imports the front ends.
LAYERS = (("auepa_monitor", "auepa_monitor.errors"), ("auepa_monitor.model_card",), ("auepa_monitor.nets",),
          ("auepa_monitor.core",), ("auepa_monitor.ui",), ("auepa_monitor.cli", "auepa_monitor.crash_log",
                                                           "auepa_monitor.__main__"))
#: Edges still to move (none now).
PENDING: set[tuple[str, str]] = set()


def _modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        parts = list(p.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = p
    return out


def _imported(node: ast.AST, base: str, mods: dict[str, Path], found: set[str]) -> None:
    """Collect the modules ``node`` imports (relative imports resolved from package ``base``)."""
    for c in ast.iter_child_nodes(node):
        if isinstance(c, ast.If) and "TYPE_CHECKING" in ast.unparse(c.test):
            continue
        if isinstance(c, ast.Import):
            found.update(a.name for a in c.names)
        elif isinstance(c, ast.ImportFrom):
            if c.level:
                up = base.split(".")[: len(base.split(".")) - (c.level - 1)]
                target = ".".join(up + ([c.module] if c.module else []))
            else:
                target = c.module or ""
            found.update(f"{target}.{a.name}" if f"{target}.{a.name}" in mods else target for a in c.names)
        _imported(c, base, mods, found)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        found: set[str] = set()
        base = name if path.name == "__init__.py" else name.rpartition(".")[0]
        _imported(ast.parse(path.read_text(encoding="utf-8")), base, mods, found)
        deps = set()
        for t in found:
            while t and t not in mods:
                t = t.rpartition(".")[0]
            if t and t != name and (name, t) not in PENDING:
                deps.add(t)
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle as a path (first node repeated at the end), or []."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(v: str) -> list[str]:
        state[v] = 1
        stack.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                return stack[stack.index(w):] + [w]
            if w not in state:
                c = dfs(w)
                if c:
                    return c
        stack.pop()
        state[v] = 2
        return []

    for v in sorted(graph):
        if v not in state:
            c = dfs(v)
            if c:
                return c
    return []


def layer_of(module: str) -> int:
    best = (-1, 0)
    for i, layer in enumerate(LAYERS):
        for prefix in layer:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best[1]:
                best = (i, len(prefix))
    return best[0]


def test_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 40 and "auepa_monitor.core.monitor" in graph
    cycle = find_cycle(graph)
    assert not cycle, " -> ".join(cycle)


def test_layers_import_downwards_only():
    graph = import_graph()
    bad = sorted((m, d) for m, deps in graph.items() for d in deps if layer_of(d) > layer_of(m))
    assert not bad, bad
    # An AU engine does not import the pipeline that runs it (engine_api is what both share).
    assert "auepa_monitor.core.pipeline" not in graph["auepa_monitor.core.openface"]


#: The core's stages, in pipeline order (``auepa_monitor/core/__init__.py`` describes them): a core
#: module imports only from its own stage or earlier ones. A new module must be placed here.
CORE_STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("common", ("errors", "records", "private_files", "processes", "roi", "landmarks", "credentials")),
    ("capture", ("sources", "reconnect", "streams", "player", "frame_loop")),
    ("face", ("face_nets", "face", "net_pool")),
    ("AUs", ("au_geometry", "au_appearance", "au_crop", "au_regions", "au_engine", "engine_api", "openface_csv",
             "openface", "engines")),
    ("scoring and explanation", ("scoring", "gradcam", "engagement", "explain", "alerts")),
    ("pipeline", ("pipeline", "all_faces", "pipeline_factory")),
    ("sessions and outputs", ("recorder", "face_table", "session", "retention", "outputs", "monitor", "ward", "analyze",
                              "whole_recording", "export", "parallel")),
)


def test_core_modules_import_along_the_pipeline_only():
    graph = import_graph()
    stage = {f"auepa_monitor.core.{m}": i for i, (_, mods) in enumerate(CORE_STAGES) for m in mods}
    core = {m for m in graph if m.startswith("auepa_monitor.core.")}
    assert not core - set(stage), f"core modules without a stage in CORE_STAGES: {sorted(core - set(stage))}"
    assert not set(stage) - core, f"CORE_STAGES names modules that do not exist: {sorted(set(stage) - core)}"
    bad = sorted((m.rpartition(".")[2], CORE_STAGES[stage[m]][0], d.rpartition(".")[2], CORE_STAGES[stage[d]][0])
                 for m in core for d in graph[m] if d in stage and stage[d] > stage[m])
    assert not bad, f"imports against the pipeline (module, its stage, imported, its stage): {bad}"
    # The docstring that shows the layout names every module of its stage.
    doc = (PKG / "core" / "__init__.py").read_text(encoding="utf-8")
    missing = [m for _, mods in CORE_STAGES for m in mods if f"``{m}``" not in doc]
    assert not missing, f"auepa_monitor/core/__init__.py does not list {missing}"


def test_the_checker_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []
