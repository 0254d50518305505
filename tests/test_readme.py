"""The README's library example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def library_example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## The library"):]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_readme_library_example_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # it writes runs/ where it runs
    namespace: dict = {}
    exec(compile(library_example(), "README.md", "exec"), namespace)  # noqa: S102 - our own README
    path = namespace["path"]
    assert path.parent == Path("runs") and path.name.startswith("vae-mnist-5k-") and path.exists()
    assert tuple(namespace["images"].shape) == (16, 1, 28, 28) and isinstance(namespace["images"], torch.Tensor)
    assert namespace["codes"].mu.shape == (500, 2) and namespace["projection"].points.shape == (500, 2)
    digit = namespace["digit"]
    assert digit.shape == (1, 28, 28) and digit.dtype == np.uint8 and digit.max() > 100  # a drawn digit, not blank
    figures = namespace["figures"]
    assert figures["kind"] == "vae" and figures["fid"] > 0 and figures["negative_elbo"] > 0
