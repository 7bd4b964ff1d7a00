"""The JSON result, verbatim: the contract in docs/result-contract.md."""

from __future__ import annotations

import json
from typing import Any

EXTENSION = "json"


def render(result: dict[str, Any], **_: Any) -> str:
    return json.dumps(result, indent=2, ensure_ascii=False) + "\n"
