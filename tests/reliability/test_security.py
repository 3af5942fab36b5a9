"""Isolation and security rules that hold for the whole code base, checked on the code and the store.

No model or user file is ever unpickled and no hub code is ever run (trust_remote_code); saved
file names come from content hashes, never from user text; per-user state lives in objects the
caller owns; the app binds 127.0.0.1 by default.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for folder in ("editor", "models", "ui") for p in (ROOT / folder).rglob("*.py")) + [ROOT / "app.py"]


def calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def dotted(func: ast.AST) -> str:
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return ".".join(reversed(parts))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_remote_code_and_no_pickle_loading(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for call in calls(tree):
        name = dotted(call.func)
        kwargs = {k.arg: k.value for k in call.keywords if k.arg}
        where = f"{path.relative_to(ROOT)}:{call.lineno}"
        trc = kwargs.get("trust_remote_code")
        assert not (isinstance(trc, ast.Constant) and trc.value is True), f"trust_remote_code=True at {where}"
        assert name not in ("pickle.load", "pickle.loads", "cPickle.load", "dill.load", "joblib.load"), where
        if name == "torch.load":
            wo = kwargs.get("weights_only")
            assert isinstance(wo, ast.Constant) and wo.value is True, f"torch.load without weights_only=True at {where}"
        if name in ("np.load", "numpy.load"):
            ap = kwargs.get("allow_pickle")
            assert not (isinstance(ap, ast.Constant) and ap.value is True), f"np.load(allow_pickle=True) at {where}"
        if name.endswith("load_lora_weights") or name.endswith("from_pretrained") and "use_safetensors" in kwargs:
            us = kwargs.get("use_safetensors")
            assert us is None or (isinstance(us, ast.Constant) and us.value is not False), where


class _Payload:
    """Unpickling this runs code: it writes the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "ran"))


def test_a_pickled_bin_lora_is_refused_before_anything_reads_it(tmp_path):
    """A style pointing at a pickle-bearing .bin file (in its metadata, or swapped in behind it) is
    refused with a clear message; the pickle's code never runs and no adapter is left behind."""
    import dataclasses
    import json
    import pickle

    import models.lora as lora
    from editor.errors import InputError
    from models.loading import load_pipeline
    from tests.models.test_lora import make_lora

    pipe = load_pipeline("tiny")
    make_lora(tmp_path, "sneaky", pipe.transformer.config, seed=4)
    marker = tmp_path / "payload-ran.txt"
    evil = tmp_path / "sneaky.bin"
    evil.write_bytes(pickle.dumps({"transformer.lora_A.weight": _Payload(marker)}))

    meta = json.loads((tmp_path / "sneaky.json").read_text(encoding="utf-8"))
    (tmp_path / "sneaky.json").write_text(json.dumps({**meta, "file": evil.name}), encoding="utf-8")
    found, problems = lora.scan_styles([tmp_path])
    assert "sneaky" not in found and any(".safetensors" in str(problem) for problem in problems)

    (tmp_path / "sneaky.json").write_text(json.dumps(meta), encoding="utf-8")
    style = dataclasses.replace(lora.load_styles([tmp_path])["sneaky"], weights=evil)
    with pytest.raises(InputError, match="must be .safetensors"):
        lora.LoraStyles(pipe, "tiny").apply(style)
    assert not marker.exists()
    assert "sneaky" not in str(pipe.get_list_adapters())


def test_no_module_unpickles_a_lora_itself():
    text = (ROOT / "models" / "lora.py").read_text(encoding="utf-8")
    assert not re.search(r"torch\.load\(", text)


@pytest.mark.parametrize("evil", ["../../etc/passwd", "/tmp/x", "a\\..\\b", "..", "가게 광고.png", "x\0y"])
def test_saved_files_stay_in_their_random_job_folder_whatever_the_user_wrote(tmp_path, evil):
    from editor.storage import JobFile, OutputStore, readable_name

    store = OutputStore(tmp_path / "out")
    name = readable_name("edit", evil)
    saved = store.save_job({"caption": evil, "file": evil, "name": evil},
                           [JobFile("result", name, image=Image.new("RGB", (8, 8), (1, 2, 3)))])
    path = saved.files["result"]
    assert path.parent == store.jobs_dir / saved.id and re.fullmatch(r"[0-9a-f]{32}", saved.id)
    assert re.fullmatch(r"[\w가-힣-]+\.png", path.name) and ".." not in path.name
    files = [p for p in (tmp_path).rglob("*") if p.is_file()]
    assert sorted(p.name for p in files) == sorted([path.name, "history.jsonl"])


def test_ad_output_names_come_from_the_format_list_not_from_user_text():
    from editor.ad.formats import get_format
    from editor.errors import InputError

    with pytest.raises(InputError):
        get_format("../../evil")


def test_app_binds_loopback_by_default(monkeypatch):
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    import app as app_module

    args = app_module.build_parser().parse_args([])
    assert args.host == "127.0.0.1" and not args.share


def test_per_user_edit_state_is_never_shared_between_sessions():
    from ui.app_state import ClientState

    a, b = ClientState(), ClientState()
    assert a.history is not b.history and a != b  # a fresh history list per browser session
