"""The Python package's shape: no import cycles (imports inside functions count too), and no
source file too long to read."""

import ast
import pathlib

PKG = pathlib.Path(__file__).resolve().parent.parent / "python" / "flamefold"
MAX_LINES = 600


def _modules(pattern="*.py"):
    """{dotted name: path} of every Python source file of the package."""
    out = {}
    for path in sorted(PKG.rglob(pattern)):
        parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name, path, modules):
    """The package's modules that ``name`` imports, anywhere in the file (a function's body,
    an ``if TYPE_CHECKING:`` block). Importing ``pkg.sub`` is an edge to ``pkg.sub``, not to
    ``pkg`` (which Python loads first, but which is not a dependency of the code)."""
    is_pkg = path.name == "__init__.py"
    here = name.split(".") if is_pkg else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - (node.level - 1)] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            # `from pkg import sub` imports the module pkg.sub; `from mod import name` only mod
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:
                t = t.rpartition(".")[0]  # `import flamefold.cli.common as c` -> that module
            if t and t != name:
                found.add(t)
    return found


def import_graph():
    sources = _modules()
    modules = {**_modules("*.pyi"), **sources}  # the native module has only its stub
    return {name: _imports(name, path, modules) for name, path in sources.items()}


def _find_cycle(graph):
    """One cycle as a list of modules (first == last), or None."""
    state = {}
    stack = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_graph_sees_imports_in_functions():
    graph = import_graph()
    assert "flamefold.cli.common" in graph["flamefold.cli.graph"]
    assert "flamefold._io" in graph["flamefold.palettes"]
    assert "flamefold.options" in graph["flamefold._api"]  # inside functions and TYPE_CHECKING
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycles():
    cycle = _find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


# what the commands share: messages and running (common), the argparse parser (parser) and
# the plain collapse command lines read without argparse (quick)
SHARED = {"flamefold.cli.common", "flamefold.cli.parser", "flamefold.cli.quick"}


def test_commands_import_only_common_and_the_library():
    graph = import_graph()
    commands = [m for m in graph if m.startswith("flamefold.cli.") and m not in SHARED]
    assert {"flamefold.cli.collapse", "flamefold.cli.graph", "flamefold.cli.diff"} <= set(commands)
    for m in commands:
        other = {t for t in graph[m] if t.startswith("flamefold.cli")} - SHARED
        assert not other, f"{m} imports {sorted(other)}"


def test_no_source_file_is_too_long():
    long = {str(p.relative_to(PKG)): n for p in PKG.rglob("*.py") if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"over {MAX_LINES} lines: {long}"
