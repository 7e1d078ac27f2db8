"""Type-check scripts that use visionlite with mypy, from a source checkout.

An installed visionlite (``visionlite/core``, ``visionlite/models``, the ``.pyi`` stubs, ``py.typed``) needs
nothing: ``mypy script.py`` works. A checkout keeps ``core/`` and ``models/`` at the top and the editable
install maps them with an import hook that static tools cannot follow, so this script copies the sources
into the installed layout in a temporary folder and points mypy there::

    python scripts/typecheck.py my_script.py [more files] [-- extra mypy options]
"""

import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYOUT = {"visionlite": "visionlite", "core": os.path.join("visionlite", "core"),
          "models": os.path.join("visionlite", "models")}


def static_tree(dest):
    """Copy the checkout's sources and stubs into ``dest`` as installed (``dest/visionlite/core/...``)."""
    for src, dst in LAYOUT.items():
        top = os.path.join(ROOT, src)
        for d, dirs, files in os.walk(top):
            dirs[:] = [x for x in dirs if not x.startswith((".", "__"))]
            for f in files:
                if f.endswith((".py", ".pyi")) or f == "py.typed":
                    out = os.path.join(dest, dst, os.path.relpath(os.path.join(d, f), top))
                    os.makedirs(os.path.dirname(out), exist_ok=True)
                    shutil.copyfile(os.path.join(d, f), out)


def run_mypy(files, workdir, extra=()):
    """Run mypy on ``files`` against the installed layout built under ``workdir``; returns (status, output).

    Imports are followed silently (visionlite's own untyped bodies are not reported), and the cache lives
    in ``workdir``."""
    src = os.path.join(workdir, "src")
    static_tree(src)
    env = dict(os.environ, MYPYPATH=src)
    cmd = [sys.executable, "-m", "mypy", "--cache-dir", os.path.join(workdir, "cache"),
           "--follow-imports=silent", "--show-error-codes", "--no-error-summary", *extra,
           *[os.path.abspath(f) for f in files]]
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    files, extra = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    if not files:
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        status, out = run_mypy(files, tmp, extra)
    sys.stdout.write(out.replace(os.path.join(tmp, "src", ""), ""))
    return status


if __name__ == "__main__":
    sys.exit(main())
