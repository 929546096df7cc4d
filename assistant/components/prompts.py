"""Prompts: the Jinja2 templates in `prompts/`, rendered with strict variables and checked on load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, meta

from assistant.errors import ConfigurationError
from assistant.settings import DEFAULT_PROMPTS

# Each template and the variables it may use; `Prompts` refuses a folder that disagrees.
TEMPLATES: dict[str, frozenset[str]] = {
    "answer_system": frozenset({"not_found"}),
    "answer_user": frozenset({"sources", "question"}),
    "judge_system": frozenset(),
    "judge_user": frozenset({"evidence", "claim"}),
    "rewrite_system": frozenset(),
    "rewrite_user": frozenset({"history", "question"}),
}
DEFAULT_FOLDER = DEFAULT_PROMPTS


class Prompts:
    """The checked templates of one folder.

    >>> Prompts(DEFAULT_FOLDER).render("judge_user", evidence=["Ice is cold."], claim="Ice is cold")
    'Premise: Ice is cold.\\n\\nHypothesis: Ice is cold\\n\\nDoes the premise entail the hypothesis? Answer YES or NO.'
    """

    def __init__(self, folder: Path = DEFAULT_FOLDER) -> None:
        self._env = Environment(
            loader=FileSystemLoader(folder), undefined=StrictUndefined, trim_blocks=True, autoescape=False
        )
        self._templates = {name: self._load(folder, name, allowed) for name, allowed in TEMPLATES.items()}

    def _load(self, folder: Path, name: str, allowed: frozenset[str]):
        filename = f"{name}.j2"
        try:
            source = (folder / filename).read_text(encoding="utf-8")
            used = meta.find_undeclared_variables(self._env.parse(source))
            template = self._env.get_template(filename)
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigurationError(f"prompt template {folder / filename} cannot be read: {error}") from error
        except TemplateError as error:
            raise ConfigurationError(f"prompt template {folder / filename} is not valid Jinja2: {error}") from error
        if unknown := used - allowed:
            raise ConfigurationError(
                f"prompt template {filename} uses {', '.join(sorted(unknown))}; it may use only "
                f"{', '.join(sorted(allowed)) or 'no variables'}"
            )
        if unused := allowed - used:  # a prompt without its sources or question would answer blind
            raise ConfigurationError(f"prompt template {filename} must use {', '.join(sorted(unused))}")
        return template

    def render(self, name: str, **variables: Any) -> str:
        try:
            return self._templates[name].render(**variables).strip()
        except TemplateError as error:  # e.g. {{ source.url }}: a field the records do not have
            raise ConfigurationError(f"prompt template {name}.j2 cannot be rendered: {error}") from error
