"""The typed, discoverable API: generated stubs match the live objects (no drift), mypy types a user's
script (Tensor methods, ``nn`` through its alias, model builders) and ``help(Tensor)`` lists the methods."""
import importlib.util
import os
import pydoc
import re

import pytest

import visionlite as vl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TYPING = os.path.join(ROOT, "tests", "typing")


def _script(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "scripts", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stubs_match_the_live_objects(tmp_path):
    gen = _script("gen_stubs")
    gen.main(["--out", str(tmp_path)])
    fresh = {os.path.relpath(os.path.join(d, f), tmp_path)
             for d, _, files in os.walk(tmp_path) for f in files}
    stale = []
    for rel in sorted(fresh):
        checked_in = os.path.join(ROOT, rel)
        with open(os.path.join(tmp_path, rel)) as f:
            want = f.read()
        if not os.path.exists(checked_in) or open(checked_in).read() != want:
            stale.append(rel)
    # generated stubs whose source went away
    for folder in ("core", "models", "visionlite"):
        for d, _, files in os.walk(os.path.join(ROOT, folder)):
            for f in files:
                path = os.path.join(d, f)
                rel = os.path.relpath(path, ROOT)
                if f.endswith(".pyi") and rel not in fresh and open(path).read().startswith(gen.HEADER):
                    stale.append(rel)
    assert not stale, f"stubs out of date, run `python scripts/gen_stubs.py`: {stale[:10]}"


def test_stubs_cover_every_public_tensor_method():
    with open(os.path.join(ROOT, "core", "tensor.pyi")) as f:
        stub = f.read()
    public = [n for n in dir(vl.Tensor) if not n.startswith("_")]
    missing = [n for n in public if not re.search(rf"(def |    ){n}\b", stub)]
    assert not missing and len(public) > 300


def _mypy(tmp_path, *scripts):
    pytest.importorskip("mypy")
    _, out = _script("typecheck").run_mypy(scripts, str(tmp_path), ["--python-version", "3.11"])
    return out


def test_mypy_types_a_user_script(tmp_path):
    right = os.path.join(TYPING, "user_script.py")
    wrong = os.path.join(TYPING, "user_script_wrong.py")
    out = _mypy(tmp_path, right, wrong)
    lines = out.splitlines()
    errors_right = [line for line in lines if ": error:" in line and not line.startswith(wrong)]
    assert not errors_right, "\n".join(errors_right)  # the correct script and the stubs themselves
    expected = {}
    with open(wrong) as f:
        for i, text in enumerate(f, 1):
            if "# E: " in text:
                expected[i] = text.split("# E: ", 1)[1].strip()
    assert len(expected) >= 10
    for lineno, fragment in expected.items():
        got = [line for line in lines if line.startswith(f"{wrong}:{lineno}: error:")]
        assert any(fragment in line for line in got), f"line {lineno}: want {fragment!r}, got {got}\n{out}"
    unexpected = [line for line in lines if line.startswith(wrong) and ": error:" in line
                  and int(line.split(":")[1]) not in expected]
    assert not unexpected, "\n".join(unexpected)


def test_help_lists_tensor_methods_with_docstrings():
    text = pydoc.render_doc(vl.Tensor, renderer=pydoc.plaintext)
    for name in ("sum", "view", "relu", "to", "backward"):
        method = getattr(vl.Tensor, name)
        first = method.__doc__.strip().splitlines()[0]
        entry = re.search(rf"^ \|  {name}\((.*)\n \|      (.*)$", text, re.M)
        assert entry, f"help(Tensor) lists no {name}(...) with a docstring"
        assert entry.group(2).strip() == first.strip()
