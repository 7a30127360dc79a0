"""Every ```python block of README.md and docs/*.md runs, so that the documentation cannot drift from the code.

Each block runs on its own (a fresh namespace, blocks do not share names) in an empty temporary working directory.
A block whose first line is `# doc-test: skip (<reason>)` is skipped with that reason; use it only for a block that
cannot run in the suite (hours of training, a cluster), never for one that merely fails.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKIP = re.compile(r"#\s*doc-test:\s*skip\s*\((?P<reason>[^)]+)\)")
FENCE = re.compile(r"^```(?P<lang>\S*)\s*$")


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """(line number of the opening fence, source) of each ```python block of a markdown file."""
    blocks, lines, start, lang = [], [], None, None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = FENCE.match(line.strip())
        if start is None:
            if match and match["lang"]:
                start, lang, lines = number, match["lang"], []
        elif line.strip() == "```":
            if lang == "python":
                blocks.append((start, "\n".join(lines) + "\n"))
            start = None
        else:
            lines.append(line)
    assert start is None, f"{path.name}: the block opened at line {start} is not closed"
    return blocks


CASES = [pytest.param(path, line, source, id=f"{path.relative_to(ROOT)}:{line}")
         for path in DOC_FILES for line, source in python_blocks(path)]


def test_the_readme_and_docs_have_python_blocks():
    files = {path.name for path, *_ in (case.values for case in CASES)}
    assert "README.md" in files and len(CASES) >= 4


@pytest.mark.parametrize("path, line, source", CASES)
def test_python_block_runs(path, line, source, tmp_path, monkeypatch):
    first = source.lstrip().splitlines()[0] if source.strip() else ""
    skip = SKIP.match(first)
    if skip:
        pytest.skip(skip["reason"])
    monkeypatch.chdir(tmp_path)
    code = compile(source, f"{path.relative_to(ROOT)}:{line}", "exec")
    exec(code, {"__name__": "__doc_block__"})


def test_python_blocks_parse_without_running():
    """A skipped block still has to be valid Python."""
    for path, line, source in (case.values for case in CASES):
        compile(source, f"{path.relative_to(ROOT)}:{line}", "exec")


def _ruff():
    """The ruff of this environment (the dev extra installs it beside the interpreter), or one on PATH."""
    beside = Path(sys.executable).parent / "ruff"
    return str(beside) if beside.exists() else shutil.which("ruff")


def test_python_blocks_pass_the_linter():
    """The blocks are held to the same ruff rules as the sources (`make test` lints the sources, not markdown)."""
    ruff = _ruff()
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    failures = []
    for path, line, source in (case.values for case in CASES):
        name = f"{path.relative_to(ROOT)}:{line}".replace("/", "_").replace(":", "_") + ".py"
        result = subprocess.run([ruff, "check", "--config", str(ROOT / "pyproject.toml"), "--output-format",
                                 "concise", "--stdin-filename", name, "-"], input=source, capture_output=True,
                                text=True, cwd=ROOT)
        if result.returncode != 0:
            failures.append(f"{path.relative_to(ROOT)}:{line}\n{result.stdout}")
    assert not failures, "\n".join(failures)


def test_block_extraction(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("text\n```python\nx = 1\n```\n```bash\nls\n```\n```python\n# doc-test: skip (slow)\ny = 2\n```\n")
    blocks = python_blocks(doc)
    assert [line for line, _ in blocks] == [2, 8]
    assert blocks[0][1] == "x = 1\n"
    assert SKIP.match(blocks[1][1].splitlines()[0])["reason"] == "slow"


def test_the_reference_levels_table_is_the_registered_one():
    """docs/ENVIRONMENTS.md restates the reference levels; they must be those plastic_envs registers."""
    from plastic_envs import ENV_IDS, reference_levels

    rows = re.findall(r"^\| `(?P<id>[\w-]+)` \| (?P<random>[\d.]+) \| (?P<best>[\d.]+)[^|]*\| (?P<solved>[\d.]+|-) \|$",
                      (ROOT / "docs" / "ENVIRONMENTS.md").read_text(), flags=re.MULTILINE)
    assert sorted(row[0] for row in rows) == sorted(ENV_IDS)
    for env_id, random, best, solved in rows:
        levels = reference_levels(env_id)
        assert (levels.random, levels.best) == (float(random), float(best)), env_id
        assert levels.solved == (None if solved == "-" else float(solved)), env_id
