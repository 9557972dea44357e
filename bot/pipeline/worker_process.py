"""`replyline serve` with the pipeline worker in a child process (REPLYLINE_WORKER_PROCESS).

Classifying and drafting are CPU work; in the web process they compete with answering
webhooks for one interpreter lock, and a platform waiting for its 2xx feels every millisecond.
In a child process at a lower CPU priority (REPLYLINE_WORKER_NICE) the worker uses what the
web process leaves; the web process only verifies, stores and acknowledges, so a
burst is acknowledged at once and the pipeline catches up behind it.

The two talk over one pipe. The web process writes a byte whenever new work is stored or a
draft is approved (`Worker.notify`), and the child wakes at once instead of at its next poll.
The pipe is also the child's lifeline: when the web process ends, however it ends (SIGKILL
included), the child reads end-of-file and stops, so no orphan keeps working. If the child dies,
the web process starts another after a short pause; work it left is picked up from the
database, since every step of the pipeline is redone safely."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys

log = logging.getLogger(__name__)
RESTART_PAUSE = 1.0  # seconds before a dead child is replaced


class WorkerProcess:
    """The child `replyline worker --wake-fd N` and the write end of its pipe."""

    def __init__(self, argv: list[str] | None = None, torch_threads: int | None = None):
        self.argv = argv or [sys.executable, "-m", "bot", "worker", "--no-scheduler"]
        self.torch_threads = torch_threads  # settings.nlp.torch_threads
        self.process: subprocess.Popen | None = None
        self._write_fd: int | None = None
        self._supervisor: asyncio.Task | None = None
        self._stopping = False

    async def start(self) -> None:
        self._spawn()
        self._supervisor = asyncio.create_task(self._supervise(), name="worker-process")

    def notify(self) -> None:
        """Wake the child (safe from any thread; a full pipe already means "wake up")."""
        fd = self._write_fd
        if fd is not None:
            with contextlib.suppress(BlockingIOError, BrokenPipeError, OSError):
                os.write(fd, b"\x01")

    async def stop(self, timeout: float = 15.0) -> None:
        self._stopping = True
        if self._supervisor:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        self._close_pipe()  # end-of-file: the child finishes its step and exits
        if self.process and self.process.poll() is None:
            try:
                await asyncio.to_thread(self.process.wait, timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def _spawn(self) -> None:
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        try:
            self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
                [*self.argv, "--wake-fd", str(read_fd)],
                pass_fds=(read_fd,),
                env=child_env(self.torch_threads),
            )
        finally:
            os.close(read_fd)
        self._write_fd = write_fd
        log.info("pipeline worker process %d started", self.process.pid)

    def _close_pipe(self) -> None:
        if self._write_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._write_fd)
            self._write_fd = None

    async def _supervise(self) -> None:
        while not self._stopping:
            process = self.process
            assert process is not None  # start() spawned it
            code = await asyncio.to_thread(process.wait)
            if self._stopping:
                return
            log.error("pipeline worker process exited with %s; starting another", code)
            self._close_pipe()
            await asyncio.sleep(RESTART_PAUSE)
            self._spawn()


def child_env(torch_threads: int | None = None) -> dict[str, str]:
    """The web process needs a core of its own to answer at once: unless told otherwise
    (settings.nlp.torch_threads), the model in the child computes on the other cores only."""
    env = dict(os.environ)
    if torch_threads is None:
        env["REPLYLINE_TORCH_THREADS"] = str(max(1, (os.cpu_count() or 2) - 1))
    return env


def watch_wake_pipe(fd: int, wake, parent_gone) -> None:
    """In the child: call `wake()` for each notice on the pipe and `parent_gone()` at its end."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            wake()
            return
        loop.remove_reader(fd)
        os.close(fd)
        log.info("the web process is gone; the pipeline worker stops")
        parent_gone()

    loop.add_reader(fd, readable)
