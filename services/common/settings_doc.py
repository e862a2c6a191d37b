"""Render the settings reference (a Markdown table) from the ``Settings`` model itself."""

from __future__ import annotations

from pydantic import SecretStr

from services.common.settings import Settings

BEGIN = "<!-- settings:begin -->"
END = "<!-- settings:end -->"


def _default(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, SecretStr):
        return "(dev-only default)"
    return f"`{getattr(value, 'value', value)}`"


def settings_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        rows.append(
            f"| `ADX_{name.upper()}` | {_default(field.default)} | {field.description or ''} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())
