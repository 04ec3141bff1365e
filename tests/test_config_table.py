"""README's configuration and props tables are generated from the models and must match them."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest
from pydantic import BaseModel

PROJECT_ROOT = Path(__file__).resolve().parent.parent
README = PROJECT_ROOT / "README.md"


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("generate_config_table", PROJECT_ROOT / "scripts" / "generate_config_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_tables_match_the_models(generator):
    readme = README.read_text()
    assert generator.render(readme) == readme, "run scripts/generate_config_table.py"


def test_a_stale_row_is_detected(generator):
    readme = README.read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `subscribers[].batch_size` |"))
    stale = readme.replace(row, row.replace("| `10` |", "| `20` |"))
    assert stale != readme and generator.render(stale) == readme
    assert generator.main(["--check"]) == 0


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


def test_every_props_field_has_a_description(generator):
    classes = generator._props_classes()
    assert {c.__name__ for c in classes} >= {"TableProps", "TopicProps", "QueueProps", "SubscribedQueueProps",
                                              "PythonFunctionProps", "TriggerProps", "KeyProps", "DashboardProps"}
    missing = [f"{c.__name__}.{f.name}" for c in classes for f in dataclasses.fields(c)
               if not f.metadata.get("description", "").strip()]
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
