"""Sphinx configuration of visionlite's documentation.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` (warnings, broken cross-references
included, are errors; ``tests/test_docs.py`` runs the same build and every code block of the guide).
"""
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "_ext"))

project = "visionlite"
author = "the visionlite developers"
copyright = "2026, the visionlite developers"

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "generated_pages"]
exclude_patterns = ["_build"]
root_doc = "index"
html_theme = "alabaster"
html_static_path = []

autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_inherit_docstrings = False  # a class without its own docstring shows none, not its base's
autodoc_typehints = "none"  # signatures are read from the code; stubs are for editors
napoleon_google_docstring = True
napoleon_numpy_docstring = False
suppress_warnings = ["autodoc.import_object"] if os.environ.get("VISIONLITE_DOCS_LENIENT") else []
