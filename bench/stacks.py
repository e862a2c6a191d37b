"""Summaries of py-spy's collapsed stacks (``py-spy record --format raw``): where the sampled
CPU went, by innermost frame (self) and by any frame on the stack (inclusive)."""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

#: ``function (file.py:line)`` in py-spy's frames; the line is dropped so a function is one row.
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _label(frame: str) -> str:
    match = _FRAME.match(frame)
    if match is None:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['func']} ({path})"


def summarize(path: Path, top: int = 25) -> str:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [_label(f) for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if not total:
        return f"{path}: no samples"

    def table(counter: Counter[str]) -> str:
        return "\n".join(
            f"  {100 * n / total:5.1f}%  {name}" for name, n in counter.most_common(top)
        )

    return f"{path}: {total} samples\nself:\n{table(own)}\ninclusive:\n{table(inclusive)}"


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        print(summarize(Path(argument)))
