"""Render the settings reference (a Markdown table) from the ``Settings`` model itself."""

from __future__ import annotations

import sys
from pathlib import Path

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


README = Path(__file__).resolve().parents[2] / "README.md"


def write_readme(readme: Path = README) -> None:
    """Replace the table between the settings markers in ``readme``."""
    text = readme.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{settings_table()}\n{END}{tail}")


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        write_readme()
    else:
        print(settings_table())
