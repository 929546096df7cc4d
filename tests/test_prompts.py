"""Prompts: templates are checked when loaded and rendered with strict variables."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import fast_settings

from assistant.backends import Backends
from assistant.components.prompts import DEFAULT_FOLDER, TEMPLATES, Prompts
from assistant.errors import ConfigurationError


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A writable copy of the shipped templates."""
    copy = tmp_path / "prompts"
    copy.mkdir()
    for template in DEFAULT_FOLDER.glob("*.j2"):
        shutil.copy(template, copy / template.name)
    return copy


def test_the_shipped_folder_has_every_template() -> None:
    assert {path.stem for path in DEFAULT_FOLDER.glob("*.j2")} == set(TEMPLATES)


def test_a_copy_of_the_shipped_templates_loads(folder: Path) -> None:
    rendered = Prompts(folder).render("judge_user", evidence=["Ice is cold."], claim="Ice is cold")
    assert rendered == Prompts(DEFAULT_FOLDER).render("judge_user", evidence=["Ice is cold."], claim="Ice is cold")


def test_judge_user_docstring_rendering() -> None:
    rendered = Prompts().render("judge_user", evidence=["Ice is cold.", "It melts."], claim="Ice is cold")
    question = "Does the premise entail the hypothesis? Answer YES or NO."
    assert rendered == f"Premise: Ice is cold. It melts.\n\nHypothesis: Ice is cold\n\n{question}"


BROKEN = [
    # (template, how it is broken: (old text, new text) or None to delete it, message fragments)
    pytest.param(
        "answer_user", ("{{ question }}", "{{ questoin }}"), ["answer_user.j2", "questoin"], id="misspelt-variable"
    ),
    pytest.param("judge_system", ("YES", "{{ verdict }}"), ["judge_system.j2", "no variables"], id="variable-in-fixed"),
    pytest.param("rewrite_user", ("{% endfor %}", ""), ["rewrite_user.j2", "not valid Jinja2"], id="unclosed-for"),
    pytest.param("answer_system", ("{{ not_found }}", "{{ not_found "), ["not valid Jinja2"], id="unclosed-expression"),
    pytest.param("answer_user", None, ["answer_user.j2", "cannot be read"], id="missing-file"),
]


@pytest.mark.parametrize(("name", "change", "fragments"), BROKEN)
def test_a_broken_template_fails_at_load(folder: Path, name: str, change, fragments: list[str]) -> None:
    path = folder / f"{name}.j2"
    if change is None:
        path.unlink()
    else:
        old, new = change
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new, 1))
    with pytest.raises(ConfigurationError) as raised:
        Prompts(folder)
    assert all(fragment in raised.value.message for fragment in fragments), raised.value.message


def test_a_folder_that_does_not_exist_fails_at_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read"):
        Prompts(tmp_path / "nowhere")


def test_a_template_that_is_not_utf8_fails_at_load_as_a_configuration_error(folder: Path) -> None:
    path = folder / "judge_system.j2"
    path.write_bytes(path.read_bytes() + "\nR\u00e9ponds OUI ou NON.".encode("latin-1"))
    with pytest.raises(ConfigurationError):
        Prompts(folder)


def test_the_settings_folder_is_the_one_loaded(tmp_path: Path, folder: Path) -> None:
    (folder / "judge_system.j2").write_text("Say YES or NO, nothing else.")
    backends = Backends(fast_settings(tmp_path / "data", prompts_dir=folder))
    assert backends.prompts.render("judge_system") == "Say YES or NO, nothing else."


@pytest.mark.parametrize(
    ("name", "variables"),
    [
        pytest.param("answer_user", {"question": "Why?"}, id="missing-sources"),
        pytest.param("answer_system", {}, id="missing-not-found"),
        pytest.param("answer_user", {"sources": [{"key": "S1", "text": "x"}], "question": "?"}, id="source-no-title"),
        pytest.param("judge_user", {"claim": "Ice is cold"}, id="missing-evidence"),
    ],
)
def test_render_refuses_missing_variables(name: str, variables: dict) -> None:
    with pytest.raises(ConfigurationError, match="cannot be rendered"):
        Prompts().render(name, **variables)


def test_render_strips_the_template_ends() -> None:
    rendered = Prompts().render("answer_system", not_found="NOPE.")
    assert rendered == rendered.strip() and rendered.endswith("NOPE.")


def test_a_template_that_leaves_out_a_variable_is_refused_at_load(tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    shutil.copytree(DEFAULT_FOLDER, folder)
    (folder / "answer_user.j2").write_text("Question: {{ question }}", encoding="utf-8")  # no sources
    with pytest.raises(ConfigurationError, match="must use sources"):
        Prompts(folder)
