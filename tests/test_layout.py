"""The layout the READMEs promise: one shape for every app, two halves of shared/, no loops, no giants.

Read by nothing at run time; it holds the tree to what README.md's Layout section and each app README's
Files section say, so a moved or added file cannot leave the docs behind.
"""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
APPS = sorted(path.parent.name for path in (REPO / "apps").glob("*/train.py"))
EVERY_APP_HAS = ("config.py", "data.py", "model.py", "serve.py", "train.py", "predict.py", "README.md", "images")
# Optional files, named alike where present; anything else must be listed (and justified) in the Files section.
LONG_FILE_ALLOWED = {"shared/runtime/bare_tf.py"}  # a standalone script: it must stay one file (its docstring)


def _python_files(*roots):
    return sorted(path for root in roots for path in (REPO / root).rglob("*.py"))


def _module(path: pathlib.Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path) -> set[str]:
    """Project modules a file imports, anywhere in it (an import inside a function is still a dependency)."""
    tree = ast.parse(path.read_text())
    # `if typing.TYPE_CHECKING:` imports exist for type checkers only, never at run time.
    typing_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(block.test) for node in ast.walk(block)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name.split(".")[0] in ("apps", "shared", "benchmarks", "lessons")}


def test_every_app_has_the_same_files_for_the_same_jobs():
    assert APPS == ["captioner", "char_lm", "imdb_sentiment", "translator", "video_tagger"]
    for app in APPS:
        missing = [name for name in EVERY_APP_HAS if not (REPO / "apps" / app / name).exists()]
        assert not missing, f"apps/{app} lacks {missing}"
        assert "def example_requests(" in (REPO / "apps" / app / "serve.py").read_text(), app


@pytest.mark.parametrize("app", APPS)
def test_each_app_readme_files_section_lists_exactly_its_files(app):
    text = (REPO / "apps" / app / "README.md").read_text()
    section = re.search(r"^## Files\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section, f"apps/{app}/README.md has no '## Files' section"
    # File names the section mentions (a path like ../../benchmarks/x.py names a file elsewhere).
    listed = set(re.findall(r"(?<![/\w])([a-z_0-9]+\.py)\b", section.group(1))) - {"__init__.py"}
    present = {path.name for path in (REPO / "apps" / app).glob("*.py") if path.name != "__init__.py"}
    assert listed == present, f"apps/{app}: listed but absent {listed - present}, present but unlisted {present - listed}"


def test_the_root_layout_lists_every_shared_module():
    text = (REPO / "README.md").read_text()
    section = re.search(r"^## Layout\n(.*?)(?=^## |\Z)", text, re.M | re.S).group(1)
    for half in ("modeling", "runtime"):
        block = re.search(rf"^  {half}/.*?(?=^  [a-z]+/|^[a-z]|\Z)", section, re.M | re.S)
        assert block, f"README Layout has no shared/{half}/ block"
        listed = set(re.findall(r"^    ([a-z_]+\.py)", block.group(0), re.M))
        present = {path.name for path in (REPO / "shared" / half).glob("*.py") if path.name != "__init__.py"}
        assert listed == present, f"shared/{half}: listed but absent {listed - present}, unlisted {present - listed}"


def test_no_file_under_apps_or_shared_is_over_300_lines():
    long = {str(path.relative_to(REPO)): len(path.read_text().splitlines()) for path in _python_files("apps", "shared")}
    assert {name: lines for name, lines in long.items() if lines > 300 and name not in LONG_FILE_ALLOWED} == {}


def test_layering_holds_apps_never_import_each_other_and_shared_imports_no_app():
    for path in _python_files("apps", "shared"):
        own = path.relative_to(REPO).parts
        for name in _imports(path):
            parts = name.split(".")
            if own[0] == "shared":
                assert parts[0] == "shared", f"{path.relative_to(REPO)} imports {name}"
            elif parts[0] == "apps" and len(parts) > 1 and own[1] != "run_all.py":
                assert parts[1] == own[1], f"{path.relative_to(REPO)} imports another app: {name}"
            assert parts[0] not in ("benchmarks", "lessons"), f"{path.relative_to(REPO)} imports {name}"


def test_no_import_loops():
    files = {_module(path): path for path in _python_files("apps", "shared", "benchmarks", "lessons")}
    graph = {module: {name for name in _imports(path) if name in files and name != module}
             for module, path in files.items()}
    state: dict[str, str] = {}

    def visit(module, trail):
        state[module] = "open"
        for target in graph[module]:
            assert state.get(target) != "open", "import loop: " + " -> ".join(trail + [module, target])
            if target not in state:
                visit(target, trail + [module])
        state[module] = "done"

    for module in graph:
        if module not in state:
            visit(module, [])
