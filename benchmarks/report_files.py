"""Writing a benchmark's report: the Markdown table and, beside it, a JSON file of every number."""

from __future__ import annotations

import json
import os


def write_outputs(path: str | None, report: str, numbers: dict) -> None:
    """Writes `report` to `path` (Markdown) and `numbers` to the same name with .json; nothing without a path."""
    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(report)
    json_path = (path[:-3] if path.endswith(".md") else path) + ".json"
    with open(json_path, "w") as f:
        json.dump(numbers, f, indent=1)
    print(f"wrote {path} and {json_path}", flush=True)
