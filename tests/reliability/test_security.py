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


def test_lora_weights_are_loaded_as_safetensors_only():
    text = (ROOT / "models" / "lora.py").read_text(encoding="utf-8")
    assert "use_safetensors=True" in text
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
