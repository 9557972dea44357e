"""bot/heap.py: long-lived objects leave the garbage collector's full collections (so a worker
holding SQLite's write lock is not paused by one), only in processes that enable it."""

import gc
import weakref

import pytest

from bot import heap
from bot.pipeline.worker import Worker


class Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture
def enabled():
    heap.enable()
    yield
    gc.unfreeze()
    gc.callbacks.remove(heap._timed)
    heap._enabled = heap._slow = False


def test_nothing_is_frozen_until_the_process_enables_it():
    frozen = gc.get_freeze_count()
    assert heap.settle() is False
    assert heap.settle_if_slow() is False
    assert gc.get_freeze_count() == frozen


def test_settle_frees_garbage_then_freezes_what_lives(enabled):
    garbage = weakref.ref(Node())  # unreachable already, kept only by its own cycle
    alive = [Node() for _ in range(1000)]
    frozen = gc.get_freeze_count()
    assert heap.settle() is True
    assert garbage() is None, "garbage was frozen instead of collected"
    assert gc.get_freeze_count() >= frozen + len(alive)
    gc.collect()  # a full collection now leaves the frozen ones alone
    assert all(node.me is node for node in alive)


def test_only_a_slow_full_collection_asks_for_another_settle(enabled, monkeypatch):
    heap.settle()
    gc.collect(1)  # a younger generation: never slow enough to matter
    assert heap.settle_if_slow() is False
    monkeypatch.setattr(heap, "SLOW_SECONDS", 0.0)  # every full collection counts as slow
    gc.collect()
    frozen = gc.get_freeze_count()
    keep = [Node() for _ in range(100)]
    assert heap.settle_if_slow() is True
    assert gc.get_freeze_count() >= frozen + len(keep)
    monkeypatch.setattr(heap, "SLOW_SECONDS", 60.0)
    assert heap.settle_if_slow() is False, "settled twice for one slow collection"


def test_the_worker_settles_after_its_first_busy_round(enabled, monkeypatch):
    calls = []
    monkeypatch.setattr(heap, "settle", lambda: calls.append("settle") or True)
    monkeypatch.setattr(heap, "settle_if_slow", lambda: calls.append("if slow") or False)
    worker = Worker(pipeline=None, outbox=None)
    worker.settle(busy=0)  # idle: the model may not be loaded yet
    assert calls == ["if slow"]
    worker.settle(busy=3)
    worker.settle(busy=5)
    assert calls == ["if slow", "settle", "if slow"]
