"""The README's settings table is generated from the Settings model and must stay in step."""

from __future__ import annotations

from services.common.settings import Settings
from services.common.settings_doc import BEGIN, END, settings_table
from tests.support import ROOT

README = ROOT / "README.md"


def test_readme_settings_table_is_current() -> None:
    text = README.read_text()
    documented = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip()
    assert documented == settings_table(), (
        "README settings table is stale: regenerate with `python -m services.common.settings_doc --write`"
    )


def test_every_setting_has_a_description() -> None:
    missing = [name for name, f in Settings.model_fields.items() if not f.description]
    assert not missing, f"settings without a description: {missing}"
