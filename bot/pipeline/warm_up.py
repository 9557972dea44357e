"""Load the model and the FAQ index when the worker starts, not when the first message comes.

Loading the classifier and its encoder (on a fresh model directory, exporting the ONNX graph
first) and embedding the FAQ takes 10-45 s. Left to the first message, that customer's draft,
crisis check and LINE reply-token window wait for it after every restart."""

from __future__ import annotations

import logging
import threading
import time

from bot.pipeline.process import Pipeline
from nlp.settings import NlpSettings

log = logging.getLogger(__name__)


def warm_up(pipeline: Pipeline, nlp: NlpSettings) -> float:
    """Load the classifier, the shared encoder and the FAQ index; the seconds it took."""
    from nlp.encoder import get_encoder

    started = time.monotonic()
    pipeline.classifier()
    get_encoder(nlp)  # FAQ search and crisis stories need it even when the classifier does not
    pipeline.playbooks.faq.prepare()
    return time.monotonic() - started


def warm_up_in_background(pipeline: Pipeline, nlp: NlpSettings) -> threading.Thread:
    """`warm_up` in a daemon thread: webhooks and shutdown never wait for it, and a failure
    leaves the model to load at the first message, as without it."""

    def run() -> None:
        try:
            seconds = warm_up(pipeline, nlp)
        except Exception as error:
            log.warning(
                "warm-up failed (%s: %s); the model loads at the first message instead",
                type(error).__name__,
                error,
            )
        else:
            log.info("warm-up: the model and FAQ index are ready (%.1f s)", seconds)

    thread = threading.Thread(target=run, name="warm-up", daemon=True)
    thread.start()
    return thread
