"""The Gradio user interface of Intact: one module per tab, assembled by `ui.layout.build_app`.

Layering: this package calls `editor/` and `models/`; it holds no model code and no module-level
mutable state (process services are passed in, per-user state lives in gr.State).
"""
