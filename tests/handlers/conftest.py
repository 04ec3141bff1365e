"""Fixtures for the Lambda handler tests (moto, offline). Helpers live in handlers_support.py.

``producer`` and ``consumer`` are fresh handler modules for each test (a new Lambda container each), loaded with
the local Lambda harness."""

from __future__ import annotations

import pytest
from handlers_support import Pipeline, Recorder, load, load_consumer, still_context
from moto import mock_aws


@pytest.fixture(scope="session", autouse=True)
def one_sns_signing_key():
    """moto signs every enveloped SNS delivery with a freshly generated RSA key; reuse one."""
    from local_pipeline.emulator import reuse_sns_signing_key

    owner, attribute, original = reuse_sns_signing_key()
    yield
    setattr(owner, attribute, original)


@pytest.fixture
def context():
    return still_context()


@pytest.fixture
def producer(request):
    """A fresh producer with the deployed default PUBLISH_CONCURRENCY, or the one given by indirect
    parametrization (``@pytest.mark.parametrize("producer", [1], indirect=True)``: one request at a time)."""
    concurrency = getattr(request, "param", None)
    return load("producer", PUBLISH_CONCURRENCY=None if concurrency is None else str(concurrency))


#: The budget of a producer whose subscribers all use raw delivery into 256 KiB queues: SNS's limit only.
RAW_ONLY_BUDGET = '{"envelope": null, "raw": 261120}'


@pytest.fixture
def raw_producer():
    """A producer whose subscribers all use raw message delivery (``MESSAGE_SIZE_BUDGET``)."""
    return load("producer", MESSAGE_SIZE_BUDGET=RAW_ONLY_BUDGET)


@pytest.fixture
def consumer():
    return load_consumer()


@pytest.fixture
def aws():
    with mock_aws():
        yield


@pytest.fixture
def pipeline(aws, monkeypatch):
    return Pipeline(monkeypatch)


@pytest.fixture
def recorder(consumer, monkeypatch):
    """The consumer's business.process replaced by a recorder (the consumer must look it up at call time)."""
    rec = Recorder()
    monkeypatch.setattr(consumer.business, "process", rec)
    return rec
