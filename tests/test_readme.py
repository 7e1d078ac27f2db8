"""README stays true: its tour runs (the part that needs no downloaded weights) and its commands exist."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_tour_runs(tmp_path, monkeypatch):
    text = README.read_text()
    code = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    offline_part = code.split("from visionlite.models")[0]
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(offline_part, "README.md", "exec"), namespace)
    assert (tmp_path / "model.safetensors").exists()
    assert namespace["w"].grad is not None


def test_readme_commands_point_at_real_files():
    text = README.read_text()
    root = README.parent
    for script in re.findall(r"python (scripts/\S+\.py)", text):
        assert (root / script).exists(), script
    ci = (root / ".ci" / "run").read_text()
    test_command = re.search(r"```\n(python -m pip install -q -e .*pytest.*)\n```", text).group(1)
    assert test_command in ci
