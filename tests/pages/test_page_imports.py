"""What a page's first run imports: only what its first content needs (a first visit waits for every import)."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("scipy", "sklearn", "torchvision")  # seconds together on 2 cores; imported where they are used


def page_imports() -> list[str]:
    """Every module app.py and the page scripts import at their top."""
    modules = set()
    for script in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module)
                modules.update(f"{node.module}.{alias.name}" for alias in node.names if node.module == "pages.ui")
            elif isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
    return sorted(module for module in modules if module.split(".")[0] in ("multigen", "pages"))


def test_the_pages_import_no_library_their_first_content_does_not_need():
    modules = page_imports()
    assert "pages.ui.loaders" in modules and "multigen.evaluation" in modules  # the list is read, not empty
    script = f"""
        import importlib, sys
        for module in {modules!r}:
            importlib.import_module(module)
        print(" ".join(name for name in {HEAVY!r} if name in sys.modules))
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], check=False, capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_the_server_imports_every_library_a_page_imports_before_it_answers():
    """``warmup.page_libraries`` (imported by the server's start-up hook) leaves nothing for a page's first run to
    import but the app's own modules: torch above all, whose import beside a first visit held it back by seconds."""
    script = """
        import importlib, pkgutil, sys
        import streamlit
        from pages.ui import warmup
        warmup.import_page_libraries()
        before = set(sys.modules)
        import pages.ui
        for module in pkgutil.iter_modules(pages.ui.__path__):
            importlib.import_module(f"pages.ui.{module.name}")
        print("torch" in before, " ".join(sorted(name for name in set(sys.modules) - before
                                                  if name.split(".")[0] != "pages")))
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], check=False, capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
