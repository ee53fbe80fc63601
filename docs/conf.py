"""Sphinx configuration for skdistill."""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("MPLBACKEND", "Agg")

import skdistill  # noqa: E402

project = "skdistill"
author = "skdistill developers"
copyright = "2026, skdistill developers"
version = release = skdistill.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "*.md"]
# The theme of scikit-learn, pandas and numpy; docs/_static/custom.css widens
# its content column so that code blocks are not cut behind a scroll bar.
html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_title = f"skdistill {release}"
# No left sidebar: the top bar has the pages, the right one the sections of
# the page, and the article gets the width.
html_sidebars = {"**": []}
html_theme_options = {
    "navbar_align": "left",
    "navbar_persistent": ["search-button"],
    "header_links_before_dropdown": 6,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}

autosummary_generate = True
autodoc_default_options = {"members": True}
# numpydoc renders the parameter tables; its class-member tables would
# duplicate autosummary's (and warn about stubs), so they are turned off.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Executed: the small plot_*.py scripts (each well under a minute on
    # 2 CPU cores). demo_churn.py (RandomForest(500), run by `make demo`)
    # is shown in the gallery but not executed by the docs build.
    # While iterating on the text, skip running them:
    #   sphinx-build -D plot_gallery=0 -b html docs docs/_build/html
    # (the gallery pages are then built without their outputs).
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
}

# ---------------------------------------------------------------------------
# Benchmark tables: docs/benchmark_*.md are written by benchmarks/*.py and may
# be absent; benchmarks.rst has a marker line that is replaced at build time
# by a literalinclude of each table that exists (no Markdown parser needed).
BENCHMARK_TABLES = [
    (
        "Quality over 3 train/test splits (teachers refitted on each; fair hard-label baseline)",
        "benchmark_quality.md",
        "python benchmarks/quality.py --splits 3",
    ),
    (
        "Quality where the teachers are weaker than the hard-label student (5 seeds; fixed 30-epoch baseline)",
        "benchmark_weak_teachers.md",
        "python benchmarks/quality.py --only wa_churn --only credit_data --task classification "
        "--seeds 5 --rows hard,distil,default --out docs/benchmark_weak_teachers.md",
    ),
    (
        "scikit-learn students, distilled and on the labels alone",
        "benchmark_sklearn_students.md",
        "python benchmarks/quality.py --splits 3 "
        "--rows hgb_labels,hgb_distil,tree_labels,tree_distil --out docs/benchmark_sklearn_students.md",
    ),
    (
        "scikit-learn students distilled from a stacked teacher (HistGradientBoosting + forest + LightGBM)",
        "benchmark_stack_students.md",
        "python benchmarks/quality.py --teachers STACK --splits 3 "
        "--rows hgb_labels,hgb_distil,tree_labels,tree_distil --out docs/benchmark_stack_students.md",
    ),
    ("Speed", "benchmark_speed.md", "python benchmarks/speed.py"),
    (
        "Serving: the student vs the teacher compiled (treelite, lleaves, onnxruntime)",
        "benchmark_serving.md",
        "python benchmarks/serving.py",
    ),
    ("Scale", "benchmark_scale.md", "python benchmarks/scale.py"),
]
MARKER = ".. benchmark-tables-here"


def _benchmark_tables_rst():
    out = []
    for title, name, command in BENCHMARK_TABLES:
        out += [title, "-" * len(title), ""]
        if (HERE / name).exists():
            out += [
                f"From ``docs/{name}``, written by ``{command}``.",
                "",
                f".. literalinclude:: {name}",
                "   :language: text",
                "",
            ]
        else:
            out += [
                f"``docs/{name}`` is not present in this build; run "
                f"``{command}`` (or ``make bench``) to produce it.",
                "",
            ]
    return "\n".join(out)


def _insert_benchmark_tables(app, docname, source):
    if docname == "benchmarks" and MARKER in source[0]:
        source[0] = source[0].replace(MARKER, _benchmark_tables_rst())


def _check_api_complete(app):
    """Fail the build when a public name is missing from api.rst."""
    text = (HERE / "api.rst").read_text()
    missing = [n for n in skdistill.__all__ if n != "__version__" and f"   {n}\n" not in text]
    if missing:
        raise RuntimeError(f"api.rst does not list public names: {missing}")


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn generates set_*_request methods (metadata routing) on every
    # estimator class; their docstrings cross-reference sklearn's own docs.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    # Inherited members are documented (fit lives in a private base class)
    # but only those defined by skdistill itself, not scikit-learn's or
    # torch's (get_params, score, forward hooks, ...).
    module = getattr(obj, "__module__", None) or ""
    if what == "class" and callable(obj) and not module.startswith("skdistill"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("source-read", _insert_benchmark_tables)
    app.connect("builder-inited", _check_api_complete)
