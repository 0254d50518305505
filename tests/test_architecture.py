"""The house keeps its shape: imports flow one way (no cycle in ``multigen``), ``multigen`` never imports
streamlit, the trainer never asks which kind of model it trains, and the public names resolve."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import multigen

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "multigen"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The multigen modules that ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("multigen"):
            found |= {f"{node.module}.{alias.name}" for alias in node.names} & set(modules)
            found |= {node.module} & set(modules)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names} & set(modules)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph``, or None (depth-first search with a path stack)."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        for target in sorted(graph.get(node, ())):
            if target in path:
                return [*path[path.index(target):], target]
            if target not in done:
                found = visit(target, [*path, target])
                if found:
                    return found
        done.add(node)
        return None

    for start in sorted(graph):
        found = visit(start, [start])
        if found:
            return found
    return None


def test_no_module_of_multigen_imports_itself_back_through_others():
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]  # the check finds one


def test_multigen_never_imports_streamlit_and_pages_never_import_torch():
    for path in PACKAGE.rglob("*.py"):
        assert "streamlit" not in {
            (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name.split(".")[0]
            for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        }, path
    for path in [ROOT / "app.py", *(ROOT / "pages").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        roots = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        roots |= {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "torch" not in roots, path


def test_the_trainer_asks_no_model_what_kind_it_is():
    source = (PACKAGE / "training" / "trainer.py").read_text()
    tree = ast.parse(source)
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert not strings & {"vae", "cvae", "gan", "cgan"}  # no kind branch
    getattrs = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "getattr"]
    assert getattrs == []  # the model answers through its interface, not through probing


@pytest.mark.parametrize("name", multigen.__all__)
def test_every_public_name_of_the_package_resolves(name):
    assert getattr(multigen, name) is not None
