"""Sphinx configuration of the documentation site (``make docs``).

Sphinx, because the docstrings are numpydoc with Sphinx roles (``:func:``,
``:class:``, ``:math:``), which it renders and cross-links natively; MyST reads the
Markdown derivations and the README, and MyST-NB runs and renders the notebooks of
``examples/``. Before the build this file writes ``_generated/``: a page per shipped
study config and a copy of the notebooks.
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
GENERATED = DOCS / "_generated"
sys.path.insert(0, str(ROOT))

from runs import DISTRIBUTION  # noqa: E402
from runs.config import CONFIG_DIR, load_config  # noqa: E402
from runs.dryrun import dry_run  # noqa: E402

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

project = "defense-coordination"
author = "The defense-coordination developers"
copyright = "2026, " + author
release = version = PYPROJECT["version"]

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "README.md"]
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

# the API reference: one page per module, members defined there (the packages'
# re-exports are documented where they are defined)
autosummary_generate = True
autodoc_default_options = {"members": True, "ignore-module-all": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_custom_sections = [("Steps", "notes_style")]

# the notebooks run at every build and a failing cell fails it
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 600

html_theme = "furo"
html_title = f"defense-coordination {release}"


def study_page(path: Path) -> str:
    """A shipped study's page: its question, how to run it, its size and its config."""
    config = load_config(path)
    question = config.question or "(the config states no question)"
    plan = dry_run(config, jobs=1, budget=0)
    config_path = Path("..", "..", "..", path.relative_to(ROOT))
    return "\n".join(
        [
            f"# {config.name}",
            "",
            f"**Question.** {question}",
            "",
            "Run it, then draw its figures and report:",
            "",
            "```console",
            f"$ defcoord run {path.stem} --out out/{config.name}",
            f"$ defcoord plot out/{config.name}",
            "```",
            "",
            f"What it runs (`defcoord run {path.stem} --dry-run`):",
            "",
            "```text",
            plan,
            "```",
            "",
            f"The config (`runs/configs/{path.name}`, shipped in the `{DISTRIBUTION}` package):",
            "",
            f"```{{literalinclude}} {config_path.as_posix()}",
            ":language: toml",
            "```",
            "",
        ]
    )


def generate() -> None:
    """Write the study pages and copy the example notebooks into ``_generated/``."""
    shutil.rmtree(GENERATED, ignore_errors=True)
    studies = GENERATED / "studies"
    studies.mkdir(parents=True)
    for path in sorted(CONFIG_DIR.glob("*.toml")):
        (studies / f"{path.stem}.md").write_text(study_page(path))
    examples = GENERATED / "examples"
    examples.mkdir()
    for notebook in sorted((ROOT / "examples").glob("*.ipynb")):
        shutil.copy(notebook, examples / notebook.name)


generate()
