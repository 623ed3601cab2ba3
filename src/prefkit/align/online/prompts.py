"""Prompt files for online training: JSON lines with a ``prompt`` field (or a chat
``messages`` list whose first user turn is the prompt), or plain text with one prompt per line.

Every problem names the file and line: ``prompts.jsonl:7: not JSON (…)``, ``…:3: no 'prompt'``,
``…: no prompts``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from prefkit.core.limits import parse_json_line
from prefkit.errors import DataError


def _from_json(value: object, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        prompt = value.get("prompt")
        if isinstance(prompt, str) and prompt.strip():
            return prompt
        messages = value.get("messages")
        if isinstance(messages, list):
            for m in messages:
                if isinstance(m, dict) and m.get("role") == "user" and isinstance(
                        m.get("content"), str):
                    return str(m["content"])
        raise DataError(f"{where}: no 'prompt' text (or user message)")
    raise DataError(f"{where}: expected an object with 'prompt' or a string")


def read_prompts(path: str | os.PathLike[str]) -> list[str]:
    """The prompts of ``path`` (``.jsonl``/``.json`` lines, else one prompt per text line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such prompts file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read the prompts file ({err})") from None
    as_json = path.suffix.lower() in (".jsonl", ".json", ".ndjson")
    prompts: list[str] = []
    # JSON lines end at \n (or \r\n) only: str.splitlines() would also cut at U+2028, U+2029
    # or U+0085, which JSON allows raw inside strings
    lines = re.split(r"\r\n?|\n", text) if as_json else text.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        if as_json:
            value = parse_json_line(line, str(path), number)  # bounded nesting, one line
            prompts.append(_from_json(value, where))
        else:
            prompts.append(line.strip())
    if not prompts:
        raise DataError(f"{path}: no prompts")
    return prompts
