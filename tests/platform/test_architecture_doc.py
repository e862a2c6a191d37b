"""docs/architecture.md names real files: every backticked repository path in it exists, every
placeholder path (``services/<domain>/schemas.py``) matches at least one, and its links resolve.
The recipe for a new domain is exempt: it names the files that domain will add."""

from __future__ import annotations

import re

from tests.support import ROOT

DOC = ROOT / "docs" / "architecture.md"

#: Suffixes that make a slash-less-at-the-root token a file name all the same.
FILE_SUFFIXES = (".py", ".md", ".toml", ".yaml", ".yml", ".json", ".txt", ".mako", ".mjs", ".lock")
_BACKTICKED = re.compile(r"`([^`\n]+)`")
_PATHLIKE = re.compile(r"^[\w.\-]+(/[\w.\-<>*]*)+$")
_PLACEHOLDER = re.compile(r"<[^>/]+>")
_LINK = re.compile(r"\]\(([^)\s]+)\)")


#: The section naming files yet to be written, up to the next section.
_RECIPE = re.compile(r"^## Adding a domain.*?(?=^## |\Z)", flags=re.DOTALL | re.MULTILINE)


def _prose(text: str) -> str:
    """The document without its fenced code blocks (code shows calls, not paths to check) and
    without the recipe for a new domain."""
    text = _RECIPE.sub("", text)
    return re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)


def mentioned_paths(text: str) -> list[str]:
    """Backticked tokens that look like repository paths: ``a/b`` whose first segment is a
    top-level entry of the repository or whose name is a file name (``.py``, ``.md``, ...)."""
    found: list[str] = []
    for token in _BACKTICKED.findall(_prose(text)):
        if not _PATHLIKE.match(token):
            continue
        first = token.split("/", 1)[0]
        if (ROOT / first).exists() or token.rstrip("/").endswith(FILE_SUFFIXES):
            found.append(token)
    return found


def _exists(token: str) -> bool:
    if "<" in token or "*" in token:
        pattern = _PLACEHOLDER.sub("*", token).rstrip("/")
        return any(ROOT.glob(pattern))
    return (ROOT / token).exists()


def test_the_doc_mentions_paths_at_all() -> None:
    # Guards the extractor: a regex that matched nothing would make the next test pass vacuously.
    paths = mentioned_paths(DOC.read_text())
    assert len(paths) > 50, f"only {len(paths)} paths found in {DOC.name}: is the extractor broken?"


def test_every_path_in_the_doc_exists() -> None:
    missing = sorted({p for p in mentioned_paths(DOC.read_text()) if not _exists(p)})
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_every_relative_link_in_the_doc_resolves() -> None:
    broken = []
    for target in _LINK.findall(DOC.read_text()):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        resolved = (DOC.parent / path).resolve()
        if not resolved.is_relative_to(ROOT):
            continue  # outside the repository (the shared design contract): not ours to check
        if path and not resolved.exists():
            broken.append(target)
    assert not broken, f"docs/architecture.md links to files that do not exist: {broken}"


def test_the_extractor_tells_paths_from_other_code() -> None:
    text = (
        "`services/auth/schemas.py` `storage/migrations/versions/<schema>/` `/auth/login` "
        "`application/problem+json` `services.common` `http|worker|both` `GET /auth/mfa`\n"
        "```\nnot/a/path.py\n```\n"
        "## Adding a domain, file by file\n`schema/tenants.py`\n## Next\n`gateway/context.py`\n"
    )
    assert mentioned_paths(text) == [
        "services/auth/schemas.py",
        "storage/migrations/versions/<schema>/",
        "gateway/context.py",
    ]
