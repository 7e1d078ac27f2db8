"""Every public Tensor method and top-level ``visionlite`` function carries a docstring, and its first line
is valid reST: ``help(Tensor)``, editors, the generated stubs and the Sphinx API reference all show it."""
import inspect

import pytest

import visionlite as vl
from tests.helpers.refs import require


def _undocumented(obj):
    return not (obj.__doc__ or "").strip()


def undocumented_methods(cls):
    """Public callables reachable on ``cls`` (its own and its bases') with no docstring."""
    return sorted(n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n, None))
                  and _undocumented(getattr(cls, n)))


def _top_level(module):
    """``(name, object)`` for the public functions and classes a module exposes (submodules left out)."""
    out = []
    # visionlite's lazily loaded names (``conv2d``, ``save``, ``svd``...) are not in ``dir`` until first use
    for name in sorted(set(dir(module)) | set(getattr(module, "_LAZY_ATTRS", ()))):
        if name.startswith("_"):
            continue
        obj = getattr(module, name)
        if inspect.ismodule(obj) or not callable(obj):
            continue
        out.append((name, obj))
    return out


def undocumented_functions(module):
    """Public functions and classes of ``module`` with no docstring of their own."""
    missing = []
    for name, obj in _top_level(module):
        doc = vars(obj).get("__doc__") if isinstance(obj, type) else obj.__doc__
        if not (doc or "").strip():
            missing.append(name)
    return sorted(missing)


def test_every_public_tensor_method_has_a_docstring():
    missing = undocumented_methods(vl.Tensor)
    assert not missing, f"Tensor methods without a docstring ({len(missing)}): {missing}"
    # the check sees the bound-from-a-table methods too (not only the ones written in the class body)
    assert {"sum", "eq", "new_zeros", "clamp_min", "is_complex", "add_"} <= set(dir(vl.Tensor))


def test_every_public_tensor_property_has_a_docstring():
    props = {n: v for k in reversed(vl.Tensor.__mro__) for n, v in vars(k).items()
             if isinstance(v, property) and not n.startswith("_")}
    assert {"shape", "dtype", "device", "T", "mH", "is_mps"} <= set(props)
    missing = sorted(n for n, p in props.items() if _undocumented(p))
    assert not missing, f"Tensor properties without a docstring: {missing}"


def test_every_top_level_function_has_a_docstring():
    names = dict(_top_level(vl))
    assert {"zeros", "eq", "is_tensor", "seed", "hstack", "conv2d", "save"} <= set(names)
    missing = undocumented_functions(vl)
    assert not missing, f"visionlite functions without a docstring ({len(missing)}): {missing}"


def test_the_checks_catch_an_undocumented_method_and_function():
    class Sub(vl.Tensor):
        def documented(self):
            """Has one."""

        def bare(self):
            pass

    Sub.bound = lambda self: self  # bound after the class body, as core/ops/methods.py binds methods
    assert undocumented_methods(Sub) == ["bare", "bound"]

    import types

    module = types.ModuleType("fake")
    module.with_doc = vl.zeros

    def bare():
        pass

    module.bare = bare
    module.Klass = type("Klass", (), {})
    assert undocumented_functions(module) == ["Klass", "bare"]


def _first_lines():
    seen = {}
    for name in dir(vl.Tensor):
        if not name.startswith("_") and callable(getattr(vl.Tensor, name, None)):
            seen[f"Tensor.{name}"] = getattr(vl.Tensor, name).__doc__
    for name, obj in _top_level(vl):
        seen[name] = obj.__doc__
    return {k: inspect.cleandoc(v).split("\n")[0] for k, v in seen.items() if (v or "").strip()}


def _rest_problems(line):
    """docutils' warnings and errors for one docstring line, and the text it could not parse."""
    import docutils.core
    import docutils.nodes
    import docutils.utils

    tree = docutils.core.publish_doctree(line, settings_overrides={
        "report_level": docutils.utils.Reporter.WARNING_LEVEL, "halt_level": 5, "warning_stream": False})
    problems = [n.astext() for n in tree.findall(docutils.nodes.system_message) if n["level"] >= 2]
    # an undefined ``|name|`` leaves only a "problematic" node behind (its message goes elsewhere)
    problems += [f"problematic {n.astext()!r}" for n in tree.findall(docutils.nodes.problematic)]
    return problems


def test_first_docstring_lines_are_valid_rest():
    # What Sphinx would reject (``|x|`` read as a substitution, an unmatched backtick or star), found here
    # in seconds for every method and function instead of in the full documentation build.
    require("docutils")
    bad = {name: (line, _rest_problems(line)) for name, line in sorted(_first_lines().items())}
    bad = {k: v for k, v in bad.items() if v[1]}
    assert not bad, "\n".join(f"{k}: {line!r}: {p}" for k, (line, p) in bad.items())


@pytest.mark.parametrize("line", ["The absolute value |x|.", "Unmatched ``x` here.", "A *star"])
def test_the_rest_check_catches_what_sphinx_rejects(line):
    require("docutils")
    assert _rest_problems(line)
    assert not _rest_problems("The absolute value ``|x|`` and ``*args``.")
