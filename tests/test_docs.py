"""The documentation: the Sphinx build passes with warnings as errors (broken cross-references, bad
docstrings), and every code block of the user guide runs.

Python blocks of a page run in order in one namespace, in a fresh folder, with the resnet18 weights the
guide uses served from 127.0.0.1 (a TorchVision-saved random checkpoint under the official file name's
place in the registry). Console blocks' ``$ visionlite ...`` lines run through the CLI; their installation
and long-job lines (``pip``, ``python scripts/...``, ``mpiexec``) are shown, not run here (the fine-tuning
and distributed scripts have their own tests). The distributed page runs in its own process: it starts MPI.
"""
import hashlib
import os
import re
import shlex
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from tests.helpers.refs import require
from visionlite import cli, hub
from visionlite import download as dl
from visionlite import models as vm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
GUIDE = os.path.join(DOCS, "guide")
OWN_PROCESS = {"distributed.rst"}
NOT_RUN_HERE = ("pip ", "python ", "mpiexec ")


def code_blocks(path):
    """``[(language, code)]`` of the ``.. code-block::`` directives of an reST file, in order."""
    lines = open(path, encoding="utf-8").read().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = re.match(r"\s*\.\. code-block:: (\w+)", lines[i])
        i += 1
        if not m:
            continue
        while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith(":")):
            i += 1
        body = []
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith("   ")):
            body.append(lines[i])
            i += 1
        blocks.append((m.group(1), textwrap.dedent("\n".join(body)).strip() + "\n"))
    return blocks


PAGES = sorted(f for f in os.listdir(GUIDE) if f.endswith(".rst"))


def test_every_guide_page_is_in_the_toctree_and_has_runnable_code():
    index = open(os.path.join(DOCS, "index.rst")).read()
    for page in PAGES:
        assert f"guide/{page[:-4]}" in index, page
        assert any(lang in ("python", "console") for lang, _ in code_blocks(os.path.join(GUIDE, page))), page


@pytest.fixture(scope="module")
def resnet18_checkpoint(tmp_path_factory):
    """The bytes of a TorchVision resnet18 state dict saved by torch (random weights)."""
    torch = require("torch")
    tvm = require("torchvision.models")
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "resnet18.pth"
    torch.save(tvm.resnet18().state_dict(), path)
    return path.read_bytes()


@pytest.fixture
def served_resnet18(local_http_server, monkeypatch, tmp_path, resnet18_checkpoint):
    """ResNet18_Weights.IMAGENET1K_V1 pointing at a torch-saved random checkpoint on 127.0.0.1."""
    monkeypatch.setattr(dl, "BACKOFF_BASE", 0.001)
    monkeypatch.setattr(hub, "_hub_dir", None)
    monkeypatch.setenv("VISIONLITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VISIONLITE_OFFLINE", raising=False)
    monkeypatch.delenv("VISIONLITE_WEIGHTS_MIRROR", raising=False)
    data = resnet18_checkpoint
    name = f"resnet18-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    local_http_server.add_file(name, data)
    value = vm.ResNet18_Weights.IMAGENET1K_V1.value
    monkeypatch.setattr(value, "url", local_http_server.url(name))
    monkeypatch.setattr(value, "sha256", None)  # the official file's pinned hash is not this file's
    return local_http_server


def _run_console(code, capsys):
    for line in code.splitlines():
        command = line.strip()[2:] if line.strip().startswith("$ ") else None
        if command is None or command.startswith(NOT_RUN_HERE):
            continue
        argv = shlex.split(command)
        assert argv[0] == "visionlite", f"console line not runnable here: {line}"
        status = cli.main(["--no-progress", *argv[1:]])
        out = capsys.readouterr()
        assert status == 0, f"{line}\n{out.out}\n{out.err}"


@pytest.mark.parametrize("page", [p for p in PAGES if p not in OWN_PROCESS])
def test_guide_code_runs(page, served_resnet18, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 80, 3), dtype=np.uint8)).save("photo.jpg")
    namespace = {"__name__": f"guide_{page[:-4]}"}
    for n, (lang, code) in enumerate(code_blocks(os.path.join(GUIDE, page))):
        if lang == "python":
            exec(compile(code, f"docs/guide/{page} block {n}", "exec"), namespace)  # noqa: S102
        elif lang == "console":
            _run_console(code, capsys)


@pytest.mark.parametrize("page", sorted(OWN_PROCESS))
def test_guide_code_runs_in_its_own_process(page, tmp_path):
    code = "\n".join(c for lang, c in code_blocks(os.path.join(GUIDE, page)) if lang == "python")
    script = tmp_path / "guide.py"
    script.write_text(code)
    env = dict(os.environ, PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "done" in done.stdout


def test_sphinx_build_has_no_warnings(tmp_path):
    require("sphinx")
    # The dummy builder reads every page (autodoc included) and resolves every cross-reference, as the html
    # build does, without writing pages.
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "dummy",
                           "-d", str(tmp_path / "doctrees"), DOCS, str(tmp_path / "out")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
