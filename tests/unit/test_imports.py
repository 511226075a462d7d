"""The shape of the imports: no cycles, and the core never reaches into a plugin.

Every import counts, wherever it stands: module level, inside a function, under
`if TYPE_CHECKING:` (a cycle hidden there is still a cycle for the reader). The graph is read
with `ast` from the source, not by importing it. A second test imports every module on its own
in a fresh interpreter (aiohttp's idea), so that a module that works only because another was
imported first is found.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator

from tests.support.helpers import ROOT

PACKAGES = ("supervisor", "health_checks", "recovery_strategies")
PLUGIN_PACKAGES = ("health_checks", "recovery_strategies")
# What the core may import of a plugin package: its registry (the package) and its base.
PLUGIN_API = {"health_checks", "health_checks.base",
              "recovery_strategies", "recovery_strategies.base"}

# Imports allowed to close a cycle: none (issue 11 took the last ones apart). The test fails on
# any cycle AND on an entry here that no longer closes one, so the set can only shrink.
KNOWN_CYCLE_EDGES: set[tuple[str, str]] = set()

# Core modules that still import a plugin module by name (same rule: remove when fixed).
KNOWN_CORE_TO_PLUGIN: set[tuple[str, str]] = set()


def _modules() -> dict[str, ast.Module]:
    found: dict[str, ast.Module] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = ast.parse(path.read_text(), str(path))
    return found


def _is_package(module: str) -> bool:
    return (ROOT / module.replace(".", "/") / "__init__.py").exists()


def _imports(module: str, tree: ast.Module, known: set[str]) -> Iterator[str]:
    """Every module of ours that `module` imports, anywhere in its source."""
    package = module if _is_package(module) else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in known:
                    yield sub  # `from pkg import module`
                elif target in known:
                    yield target  # `from module import name`


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {m: {t for t in _imports(m, tree, known) if t != m} for m, tree in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[frozenset[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(frozenset(component))
    return found


def _describe(cycle: frozenset[str], graph: dict[str, set[str]]) -> str:
    edges = sorted(f"{a} -> {b}" for a in cycle for b in graph[a] if b in cycle)
    return "{" + ", ".join(sorted(cycle)) + "}: " + "; ".join(edges)


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def test_no_import_cycles() -> None:
    graph = _graph()
    without_known = {m: {t for t in ts if (m, t) not in KNOWN_CYCLE_EDGES}
                     for m, ts in graph.items()}
    new = _cycles(without_known)
    assert not new, "import cycles (TYPE_CHECKING and function-level imports count):\n" + \
        "\n".join(_describe(c, graph) for c in new)
    stale = sorted((a, b) for a, b in KNOWN_CYCLE_EDGES
                   if b not in graph.get(a, set()) or not _reaches(graph, b, a))
    assert not stale, f"these no longer close a cycle: remove them from KNOWN_CYCLE_EDGES: {stale}"


def test_the_core_imports_no_plugin_module() -> None:
    graph = _graph()
    reaching = {(m, t) for m, targets in graph.items() if m.split(".")[0] == "supervisor"
                for t in targets
                if t.split(".")[0] in PLUGIN_PACKAGES and t not in PLUGIN_API}
    assert not reaching - KNOWN_CORE_TO_PLUGIN, \
        "the core imports plugin modules (only the registry and base are its API): " + \
        ", ".join(f"{m} -> {t}" for m, t in sorted(reaching - KNOWN_CORE_TO_PLUGIN))
    assert not KNOWN_CORE_TO_PLUGIN - reaching, \
        f"fixed, remove from KNOWN_CORE_TO_PLUGIN: {sorted(KNOWN_CORE_TO_PLUGIN - reaching)}"


def test_the_graph_sees_every_kind_of_import() -> None:
    """The walker itself: a function-level, a TYPE_CHECKING and a relative import are edges."""
    tree = ast.parse("from typing import TYPE_CHECKING\n"
                     "if TYPE_CHECKING:\n    from supervisor.daemon import Daemon\n"
                     "def f():\n    from . import events\n    import supervisor.core.state\n")
    known = {"supervisor.daemon", "supervisor.core.events", "supervisor.core.state"}
    assert set(_imports("supervisor.core.scheduler", tree, known)) == known
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset("abc")]


# Run in a fresh interpreter: it imports the third-party packages our code names (so that each
# fork below costs milliseconds, not the half second pydantic and aiohttp take), then forks once
# per module of ours; the child imports only that module. Our own modules are never preloaded.
_EACH_ON_ITS_OWN = """
import importlib, json, os, sys, traceback
third_party, ours = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for name in third_party:
    try:
        importlib.import_module(name)
    except ImportError:
        pass  # an optional extra, or `from pkg import attribute`: the child will tell
failed = {}
for module in ours:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(module)
            code = 0
        except BaseException:
            os.write(write, traceback.format_exc().encode()[-4000:])
            code = 1
        os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        out = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    if status != 0:
        failed[module] = out or f"exit status {status}"
print(json.dumps(failed))
"""


def _third_party(modules: dict[str, ast.Module]) -> list[str]:
    ours = set(PACKAGES) | {"tests"}
    names: set[str] = set()
    for tree in modules.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
    return sorted(n for n in names if n.split(".")[0] not in ours
                  and n.split(".")[0] not in sys.stdlib_module_names)


def test_every_module_imports_on_its_own() -> None:
    modules = _modules()
    ours = sorted(m for m in modules if not m.endswith("__main__"))  # __main__ runs the CLI
    done = subprocess.run(
        [sys.executable, "-c", _EACH_ON_ITS_OWN, json.dumps(_third_party(modules)),
         json.dumps(ours)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    failed = json.loads(done.stdout.strip().splitlines()[-1])
    assert not failed, "modules that fail to import on their own (in a fresh interpreter):\n" + \
        "\n".join(f"--- {m}\n{err}" for m, err in failed.items())
    assert len(ours) > 100, "the walk found the package's modules"
