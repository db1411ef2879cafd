"""The dependency rule and the wiring hold."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from entrypoints.config import load_settings
from entrypoints.container import Container

ROOT = Path(__file__).resolve().parents[1]


def test_dependencies_point_inward():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_domain_imports_nothing_but_the_standard_library_and_itself():
    for path in (ROOT / "domain").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else (
                    [node.module]
                    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                    else []
                )
            )
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in ("domain", "__future__"), (
                    f"{path.name}: {name}"
                )


def test_the_container_can_build_everything():
    container = Container()
    container.config.from_dict(load_settings({"RS_DATABASE_URL": "memory://"}))
    container.check_dependencies()
    assert container.recommend_home() is not None
