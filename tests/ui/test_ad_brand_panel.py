"""The Ad tab's brand kits: shared on a shop's own computer, each browser's own on a public app."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from editor.ad.brand import BrandKit
from ui.ad_brand import NO_BRAND, brand_choices, build_brand_panel, chosen_brand, save_brand
from ui.app_state import AppConfig, Services


def _services(tmp_path, monkeypatch, private: bool) -> Services:
    monkeypatch.setenv("INTACT_BRAND_DIR", str(tmp_path / "brands"))
    return Services(AppConfig(model="tiny", output_dir=tmp_path / "out", private_gallery=private))


def _browser(services: Services, session: str, browser: str):
    services.browsers.remember(session, browser)
    return SimpleNamespace(session_hash=session, headers={}, client=None)


def test_on_a_public_app_each_browser_sees_and_uses_only_its_own_kits(tmp_path, monkeypatch):
    services = _services(tmp_path, monkeypatch, private=True)
    alice, bob = _browser(services, "s1", "a" * 32), _browser(services, "s2", "b" * 32)
    save_brand(services.brands(alice), "카페 온도", None, "#c0392b", "#1f1a17", None, "stack")
    assert [value for _label, value in brand_choices(services.brands(alice))] == [NO_BRAND, "카페 온도"]
    assert [value for _label, value in brand_choices(services.brands(bob))] == [NO_BRAND]  # nothing of Alice's
    assert chosen_brand(services.brands(alice), "카페 온도").accent == "#c0392b"
    again = _browser(services, "s3", "a" * 32)  # Alice after a page reload: a new session, the same browser
    assert chosen_brand(services.brands(again), "카페 온도").accent == "#c0392b"

    with gr.Blocks():
        panel = build_brand_panel(services)
    assert [value for _label, value in panel.pick.choices] == [NO_BRAND]  # the page itself lists nobody's kits
    assert [value for _label, value in panel.localise(alice).choices] == [NO_BRAND, "카페 온도"]
    assert [value for _label, value in panel.localise(bob).choices] == [NO_BRAND]


def test_on_a_shops_own_computer_everyone_shares_the_kits(tmp_path, monkeypatch):
    services = _services(tmp_path, monkeypatch, private=False)
    services.studio.brands.save(BrandKit("카페 온도", ("#2255aa",)))
    staff = _browser(services, "s1", "c" * 32)
    assert chosen_brand(services.brands(staff), "카페 온도").accent == "#2255aa"
    with gr.Blocks():
        panel = build_brand_panel(services)
    assert [value for _label, value in panel.pick.choices] == [NO_BRAND, "카페 온도"]
