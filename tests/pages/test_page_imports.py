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
