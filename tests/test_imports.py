"""Import contracts: no cycles between the project's modules, no app importing `conductor`, and the
layers of pyproject.toml's [tool.importlinter] (also checked by `make lint`)."""

import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp

PROJECT_DIR = Path(__file__).resolve().parent.parent
WIRING = "conductor"
APPS = ("dashboard", "monitoring", "councilors", "gamification", "infrastructure", "devserver")


def strongly_connected_components(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: groups of modules that all reach each other (one cycle or more)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every group of modules that import each other, directly or through others (imports inside
    functions count: they still tie the modules together; `if TYPE_CHECKING:` imports do not)."""
    edges = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    return [
        component
        for component in strongly_connected_components(edges)
        if len(component) > 1 or component[0] in edges[component[0]]
    ]


def test_the_cycle_finder_finds_cycles_and_only_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": set(), "f": {"f"}}
    assert sorted(strongly_connected_components(graph)) == [["a", "b", "c"], ["d"], ["e"], ["f"]]


def test_no_module_of_the_project_is_part_of_an_import_cycle():
    sys.path.insert(0, str(PROJECT_DIR))  # grimp finds packages on sys.path
    try:
        graph = grimp.build_graph(WIRING, *APPS, exclude_type_checking_imports=True, cache_dir=None)
    finally:
        sys.path.remove(str(PROJECT_DIR))
    assert len(graph.modules) > 100  # the whole project was read, not an empty graph
    assert import_cycles(graph) == []


def test_no_app_imports_the_wiring_package():
    found = subprocess.run(
        ["grep", "-rn", r"from conductor\|import conductor", *APPS],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    assert found.returncode == 1, found.stdout  # grep: 1 means "no line matched"


def test_the_import_linter_contracts_are_kept():
    # CI runs `make test`, not `make lint`: the contracts are checked here too. A process of its
    # own, as `make lint` runs it (importlinter reads pyproject.toml from the working directory).
    lint_imports = Path(sys.executable).parent / "lint-imports"
    checked = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"], cwd=PROJECT_DIR, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert re.search(r"Contracts: \d+ kept, 0 broken", checked.stdout), checked.stdout


# Private state of foreign libraries the project relies on (docs/architecture.md): each name may
# appear only in a module of a `fastpath` package, which checks it at start-up and falls back.
FOREIGN_INTERNALS = {
    "thread_sensitive_context": "asgiref's SyncToAsync",
    "KILL_WAIT": "honcho.manager",
    "_get_scheme": "Django's HttpRequest",
    "_tempDataLen": "Twisted's transport",
    "dataBuffer": "Twisted's transport",
    "send_queue": "autobahn's protocol",
    "payloadHybi": "autobahn's PreparedMessage",
    "failByDrop": "autobahn's protocol",
    "closeHandshakeTimeout": "autobahn's protocol",
    "_get_group_channel_name": "channels-redis",
    "handle_reply": "daphne's Server",
}


def test_foreign_internals_are_touched_only_in_fastpath_modules():
    import ast

    found = []
    for app in (WIRING, *APPS):
        for path in sorted((PROJECT_DIR / app).rglob("*.py")):
            if "fastpath" in path.relative_to(PROJECT_DIR).parts or "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "name", None)
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    name = node.value
                if name in FOREIGN_INTERNALS:
                    found.append(f"{path.relative_to(PROJECT_DIR)}:{node.lineno}: {name} ({FOREIGN_INTERNALS[name]})")
    assert found == []
