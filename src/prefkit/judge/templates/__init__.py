"""Judge prompt templates (Jinja2), replaceable by the user; hashed into every cache key.

A template renders chat messages: the text after a line ``<<system>>`` is the system message, the
text after ``<<user>>`` the user message (a template without markers is one user message).
Pairwise templates get ``question``, ``answer_a`` and ``answer_b`` — the answers *as shown*
(position A first) — and must end the judge's instructions with their verdict grammar.

``template_hash`` = sha256 of the template file's text (UTF-8), so any edit changes every cache
key and every judgment record it made.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from prefkit.errors import DataError

_MARKER = re.compile(r"^<<(system|user)>>[ \t]*$", re.MULTILINE)
#: Built-in templates and the verdict protocol (parser) of each.
PROTOCOLS: dict[str, str] = {
    "pairwise": "pairwise-abc",
    "arena_hard": "arena-hard",
    "prometheus": "prometheus",
    "mt_bench": "rating",
    "checklist_generate": "checklist-questions",
    "checklist_answer": "yes-no",
}
BUILTIN = tuple(PROTOCOLS)
_PROTOCOL_LINE = re.compile(r"protocol:\s*([A-Za-z0-9_.-]+)")


def sniff_protocol(text: str) -> str:
    """A template file's protocol: a ``protocol: NAME`` note (e.g. in a Jinja comment) wins;
    else ``arena-hard`` when the text shows ``[[A>>B]]``; else ``pairwise-abc``."""
    match = _PROTOCOL_LINE.search(text)
    if match:
        return match.group(1)
    return "arena-hard" if "[[A>>B]]" in text else "pairwise-abc"


@dataclass(frozen=True)
class Template:
    """A loaded template: its name, text, hash and the variables it needs."""

    name: str
    text: str
    protocol: str = "pairwise-abc"

    @functools.cached_property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def variables(self) -> set[str]:
        from jinja2 import meta

        env = jinja2.Environment()
        return set(meta.find_undeclared_variables(env.parse(self.text)))

    @functools.cached_property
    def _compiled(self) -> jinja2.Template:
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
        return env.from_string(self.text)

    def render(self, **values: Any) -> tuple[dict[str, str], ...]:
        """The chat messages for ``values`` (StrictUndefined: a missing value is a DataError)."""
        try:
            text = self._compiled.render(**values)
        except jinja2.UndefinedError as err:
            raise DataError(f"template {self.name}: {err.message}") from None
        parts = _MARKER.split(text)
        if len(parts) == 1:
            return ({"role": "user", "content": text.strip()},)
        messages = []
        for role, content in zip(parts[1::2], parts[2::2], strict=True):
            messages.append({"role": role, "content": content.strip("\n")})
        return tuple(messages)


def load_template(name_or_path: str | Path = "pairwise", protocol: str | None = None) -> Template:
    """A built-in template by name (see :data:`PROTOCOLS`) or a ``.jinja`` file; ``protocol``
    overrides the built-in's or the file's own (:func:`sniff_protocol`)."""
    if str(name_or_path) in BUILTIN:
        text = (resources.files(__package__) / f"{name_or_path}.jinja").read_text("utf-8")
        return Template(str(name_or_path), text, protocol or PROTOCOLS[str(name_or_path)])
    path = Path(name_or_path)
    if not path.is_file():
        raise DataError(f"no template file '{path}' (built-in: {', '.join(BUILTIN)})",
                        field="--template")
    try:
        text = path.read_text("utf-8")
        jinja2.Environment().parse(text)
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read template: {err}", source=str(path)) from None
    except jinja2.TemplateSyntaxError as err:
        raise DataError(f"template syntax: {err.message}", source=str(path),
                        line=err.lineno) from None
    return Template(path.name, text, protocol or sniff_protocol(text))
