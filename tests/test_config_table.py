"""The documentation's generated tables (configuration, construct props) match the code.

scripts/generate_config_table.py writes every table between its markers (README.md, docs/**/*.md);
these tests fail when one is stale and say which command rewrites it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import shutil
from pathlib import Path

import pytest
from pydantic import BaseModel

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIGURATION = PROJECT_ROOT / "docs" / "configuration.md"


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("generate_config_table", PROJECT_ROOT / "scripts" / "generate_config_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def classes(generator):
    return generator.props_classes()


def test_every_generated_table_matches_the_code(generator):
    changed, problems = generator.stale(write=False)
    assert not problems, problems
    assert not changed, f"stale generated tables in {changed}; regenerate them with: {generator.COMMAND}"
    assert generator.main(["--check"]) == 0


def test_a_stale_row_is_detected(generator, classes):
    text = CONFIGURATION.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `subscribers[].batch_size` |"))
    stale = text.replace(row, row.replace("| `10` |", "| `20` |"))
    assert stale != text and generator.render(stale, classes) == text


def test_the_check_prints_the_regenerating_command(generator, classes, tmp_path, monkeypatch, capsys):
    docs = tmp_path / "docs"
    shutil.copytree(PROJECT_ROOT / "docs", docs)
    shutil.copy(PROJECT_ROOT / "README.md", tmp_path / "README.md")
    text = CONFIGURATION.read_text()
    (docs / "configuration.md").write_text(text.replace("| `subscribers[].batch_size` | `10` |", "| `subscribers[].batch_size` | `20` |"))
    monkeypatch.setattr(generator, "ROOT", tmp_path)
    monkeypatch.setattr(generator, "DOCS", docs)
    assert generator.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "docs/configuration.md" in err and "python scripts/generate_config_table.py" in err
    # Without --check it rewrites the stale file, and the check passes again.
    assert generator.main([]) == 0
    assert (docs / "configuration.md").read_text() == text


def test_a_stale_props_row_is_detected(generator, classes):
    page = PROJECT_ROOT / generator.PAGES["TopicProps"]
    text = page.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `enforce_tls` |"))
    stale = text.replace(row, row.replace("| `true` |", "| `false` |"))
    assert stale != text and generator.render(stale, classes) == text


def test_every_public_props_class_has_its_table_on_its_page(generator, classes):
    import constructs_lib

    public = {name for name in constructs_lib.__all__ if name.endswith("Props")}
    assert public <= set(classes) and public <= set(generator.PAGES)
    texts = {path.relative_to(PROJECT_ROOT).as_posix(): path.read_text() for path in generator.documents()}
    assert generator.missing_markers(texts, classes) == []
    # A props class without its markers is reported with the line to add.
    without = {rel: text.replace("<!-- generated:props TableProps (", "<!-- gone (") for rel, text in texts.items()}
    [problem] = generator.missing_markers(without, classes)
    assert problem.startswith("docs/constructs/table.md: no table of TableProps")


def test_a_public_props_class_without_a_page_is_an_error(generator, monkeypatch):
    monkeypatch.delitem(generator.PAGES, "TopicProps")
    with pytest.raises(generator.DocsError, match="TopicProps: no documentation page; add it to PAGES"):
        generator.props_classes()


def test_a_marker_naming_an_unknown_class_is_an_error(generator, classes):
    text = "<!-- generated:props NoSuchProps (python scripts/generate_config_table.py) -->\n<!-- /generated -->\n"
    with pytest.raises(generator.DocsError, match="NoSuchProps"):
        generator.render(text, classes, "docs/x.md")


def test_props_tables_carry_type_default_and_description(generator, classes):
    table = generator.props_table(classes["QueueProps"])
    assert "| `visibility_timeout_seconds` | `int \\| None` | none | Visibility timeout;" in table
    assert "| `name` | `str` | (required) |" in table
    # Descriptions naming <placeholders> are escaped, or Markdown would read them as HTML tags.
    assert "'&lt;name&gt;-dlq'" in table


def _models(model: type[BaseModel], seen: set) -> set:
    seen.add(model)
    for field in model.model_fields.values():
        for candidate in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel) and candidate not in seen:
                _models(candidate, seen)
    return seen


def test_every_config_field_has_a_description():
    from pipeline_model.config import PipelineConfig

    missing = [f"{model.__name__}.{name}" for model in _models(PipelineConfig, set())
               for name, field in model.model_fields.items() if not (field.description or "").strip()]
    assert not missing


def test_every_props_field_has_a_description(classes):
    assert set(classes) >= {"TableProps", "TopicProps", "QueueProps", "SubscribedQueueProps",
                            "PythonFunctionProps", "TriggerProps", "KeyProps", "DashboardProps"}
    from pydantic import BaseModel

    missing = [f"{name}.{f.name}" for name, c in classes.items() if not issubclass(c, BaseModel)
               for f in dataclasses.fields(c) if not f.metadata.get("description", "").strip()]
    missing += [f"{name}.{field}" for name, c in classes.items() if issubclass(c, BaseModel)
                for field, info in c.model_fields.items() if not (info.description or "").strip()]
    assert not missing


def test_name_fields_document_the_default_names_of_pipeline_model_defaults():
    """The default names are written once (pipeline_model.defaults); each name field's description,
    which the README table shows, must state the one the names are computed from."""
    from pipeline_model import defaults
    from pipeline_model.config import PipelineConfig, SubscriberConfig

    expected = {
        PipelineConfig: {"stack_name": defaults.STACK_NAME, "table_name": defaults.TABLE_NAME,
                         "topic_name": defaults.TOPIC_NAME, "producer_function_name": defaults.PRODUCER_FUNCTION_NAME,
                         "stream_failure_queue_name": defaults.STREAM_FAILURE_QUEUE_NAME,
                         "alarm_topic_name": defaults.ALARM_TOPIC_NAME},
        SubscriberConfig: {"queue_name": defaults.MAIN_QUEUE_NAME, "function_name": defaults.MAIN_FUNCTION_NAME},
    }
    for model, fields in expected.items():
        for name, default in fields.items():
            field = model.model_fields[name]
            assert field.default is None and f'"{default}"' in (field.description or ""), (model.__name__, name)
