"""Fixtures for the Lambda handler tests (moto, offline). Helpers live in handlers_support.py."""

from __future__ import annotations

import pytest
from handlers_support import FakeContext, Pipeline, Recorder, business, consumer_app, producer_app
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
    return FakeContext()


@pytest.fixture
def producer():
    return producer_app


@pytest.fixture
def consumer():
    return consumer_app


@pytest.fixture
def aws():
    with mock_aws():
        yield


@pytest.fixture
def pipeline(aws, monkeypatch):
    return Pipeline(monkeypatch)


@pytest.fixture
def recorder(monkeypatch):
    """business.process replaced by a recorder (the consumer must look it up at call time)."""
    rec = Recorder()
    monkeypatch.setattr(business, "process", rec)
    return rec
