"""SQLite writers queue (db/engine.py WriterQueue) instead of meeting a busy database: with
SQLite's own busy wait switched off, writers in several threads of two processes never see
"database is locked", and each starts only after the previous one's COMMIT has returned."""

import multiprocessing
import threading

from sqlalchemy import event, text

from db.engine import make_engine

WRITES_PER_THREAD = 60
THREADS = 3


def no_busy_wait(engine) -> None:
    """Any writer meeting another's lock now fails at once instead of sleeping."""

    @event.listens_for(engine, "connect")
    def _(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA busy_timeout=0")


def hammer(url: str, tag: str) -> list[str]:
    engine = make_engine(url)
    no_busy_wait(engine)
    errors: list[str] = []

    def write(thread: int) -> None:
        for n in range(WRITES_PER_THREAD):
            try:
                with engine.begin() as connection:
                    connection.execute(
                        text("INSERT INTO note (who) VALUES (:who)"), {"who": f"{tag}{thread}-{n}"}
                    )
                    connection.execute(text("UPDATE counter SET n = n + 1"))
            except Exception as error:  # collected: the test shows them all
                errors.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=write, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    return errors


def hammer_in_child(url: str, queue) -> None:
    queue.put(hammer(url, "child"))


def test_writers_in_two_processes_queue_instead_of_finding_the_database_locked(tmp_path):
    url = f"sqlite:///{tmp_path / 'writers.db'}"
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY, who TEXT)"))
        connection.execute(text("CREATE TABLE counter (n INTEGER)"))
        connection.execute(text("INSERT INTO counter VALUES (0)"))
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=hammer_in_child, args=(url, results))
    child.start()
    errors = hammer(url, "parent")
    child_errors = results.get(timeout=120)
    child.join(30)
    assert errors == [] and child_errors == []
    with engine.connect() as connection:
        notes = connection.execute(text("SELECT count(*) FROM note")).scalar()
        counted = connection.execute(text("SELECT n FROM counter")).scalar()
    engine.dispose()
    assert notes == counted == 2 * THREADS * WRITES_PER_THREAD
