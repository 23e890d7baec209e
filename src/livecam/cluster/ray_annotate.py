"""The Ray engine: a pool of actors, each holding a model loaded and traced
once, annotating one video per task; the driver passes paths, never models
or frames, keeps a bounded number of videos in flight, retries a video whose
worker (or node) died, and reports progress across the cluster."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from livecam.cluster.jobs import AnnotateJob, VideoAnnotator, VideoResult, VideoTask
from livecam.errors import LivecamError, last_line

RAY_MISSING = '--engine ray needs: pip install "livecam[ray]"'
PROGRESS_EVERY = 8  # frames between two progress reports of a worker
POLL_S = 0.5
CONNECT_TIMEOUT_S = 10.0
BOARD_TIMEOUT_S = 5.0
# Deaths of a worker before it began a video (handed to an actor already dead)
# are not attempts; past this many, they count anyway.
UNBEGUN_DEATHS = 8
HEAD_NODE = "node:__internal_head__"  # a resource only the head node has
# Tests set this to make one worker kill itself (SIGKILL) after N frames, once.
KILL_HOOK = "LIVECAM_TEST_KILL_WORKER_AFTER_FRAMES"

ResultCallback = Callable[[VideoResult], None]
ProgressCallback = Callable[["JobProgress"], None]


@dataclass
class JobProgress:
    """The whole job's progress, for one bar."""

    videos_done: int
    videos_total: int
    frames: int
    elapsed_s: float
    videos_begun: int = 0  # begun by a worker, finished or not (retries count once)

    @property
    def fps(self) -> float:
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0


def import_ray():
    try:
        import ray
    except ImportError:
        raise LivecamError(RAY_MISSING) from None
    return ray


class _ProgressBoard:
    """Frames done per video, reported by the workers (a Ray actor)."""

    def __init__(self) -> None:
        self.frames: dict[str, int] = {}
        self.begun: dict[str, int] = {}

    def begin(self, video: str, attempt: int) -> None:
        self.begun[video] = attempt
        self.frames[video] = 0

    def begun_attempt(self, video: str) -> int:
        return self.begun.get(video, 0)

    def update(self, video: str, done: int) -> None:
        self.frames[video] = done

    def counts(self) -> tuple[int, int]:
        """Frames done and videos begun."""
        return sum(self.frames.values()), len(self.begun)


class _Worker(VideoAnnotator):
    """A Ray actor: :class:`VideoAnnotator` plus progress reports and the node name."""

    def __init__(self, job: AnnotateJob, threads: int, kill_after: int | None, marker: str):
        super().__init__(job, threads)
        self._kill_after = kill_after
        self._marker = marker

    def run(self, task: VideoTask, board, attempt: int) -> dict:
        import ray

        ray.get(board.begin.remote(str(task.input), attempt))  # so a death counts as an attempt

        def progress(done: int, total: int | None) -> None:
            if done % PROGRESS_EVERY == 0 or done == total:
                board.update.remote(str(task.input), done)
            if self._kill_after is not None and done >= self._kill_after and self._claim_kill():
                os.kill(os.getpid(), 9)  # the fault a test injects: this worker dies now

        result = self.annotate(task, progress)
        result["node"] = socket.gethostname() + ":" + _node_id()
        return result

    def _claim_kill(self) -> bool:
        """True for exactly one worker of the job (the marker file is created once)."""
        try:
            os.close(os.open(self._marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True


def _node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()[:8]


@contextlib.contextmanager
def _connected(ray, address: str | None):
    """Ray at ``address`` (else ``RAY_ADDRESS``, else a local instance started
    for this run and shut down after it); an instance already up is used as is."""
    if ray.is_initialized():
        yield
        return
    target = address or os.environ.get("RAY_ADDRESS")
    check_reachable(target)
    try:
        ray.init(
            address=target,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise LivecamError(f"cannot connect to the Ray cluster at {target}: {exc}") from None
    try:
        yield
    finally:
        ray.shutdown()


def check_reachable(address: str | None, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Fail fast on a ``host:port`` nobody listens on (Ray itself waits for
    minutes); ``auto``, ``local``, ``ray://`` and ``http://`` addresses are
    left to Ray.

    Raises:
        LivecamError: Nothing accepts connections there.
    """
    if not address or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except ValueError:
        raise LivecamError(f"--address {address!r} is not host:port") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise LivecamError(f"cannot reach the Ray cluster at {address}: {reason}") from None


def annotate_on_ray(
    tasks: list[VideoTask],
    job: AnnotateJob,
    *,
    address: str | None = None,
    workers: int | None = None,
    cpus_per_worker: float = 2,
    gpus_per_worker: float = 0,
    retries: int = 3,
    on_result: ResultCallback | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[VideoResult]:
    """Annotate ``tasks`` on Ray, one task per video on a pool of actors.

    A video whose worker process or node dies is retried from the start on
    another actor (its temporary files removed) up to ``retries`` times; a
    video that fails with a livecam error (a corrupt file) is not retried.
    Either way the other videos complete.

    Raises:
        LivecamError: Ray is not installed, or cannot be reached.
        KeyboardInterrupt: The job was interrupted; the videos in flight
            left no files behind, and the finished ones are complete.
    """
    ray = import_ray()
    if retries < 0:
        raise LivecamError(f"--retries must be at least 0, got {retries}")
    with _connected(ray, address):
        return _Driver(ray, tasks, job, cpus_per_worker, gpus_per_worker, retries).run(
            workers, on_result, on_progress
        )


class _Driver:
    def __init__(self, ray, tasks, job, cpus, gpus, retries) -> None:
        self.ray = ray
        self.job = job
        self.cpus = cpus
        self.retries = retries
        self.pending: deque[VideoTask] = deque(tasks)
        self.total = len(tasks)
        self.attempts: dict[VideoTask, int] = {}
        self.unbegun: dict[VideoTask, int] = {}
        self.seen = (0, 0)  # the board's last counts
        self.results: list[VideoResult] = []
        self.inflight: dict = {}  # object ref -> (actor, task)
        self.idle: list = []
        self.actors = 0
        marker = Path(tempfile.gettempdir()) / f"livecam-kill-{os.getpid()}-{time.time_ns()}"
        kill_after = os.environ.get(KILL_HOOK)
        worker = ray.remote(num_cpus=cpus, num_gpus=gpus)(_Worker)
        threads = max(1, int(cpus))

        def new_actor():
            self.actors += 1
            return worker.remote(job, threads, int(kill_after) if kill_after else None, str(marker))

        self.new_actor = new_actor
        board = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(_ProgressBoard)
        self.board = board.options(resources={HEAD_NODE: 0.001}).remote()  # outlives workers

    def pool_size(self, asked: int | None) -> int:
        cpus = self.ray.cluster_resources().get("CPU", 1)
        size = asked or max(1, int(cpus // self.cpus))
        return max(1, min(size, self.total))

    def run(self, workers, on_result, on_progress) -> list[VideoResult]:
        started = time.perf_counter()
        self.idle = [self.new_actor() for _ in range(self.pool_size(workers))]
        try:
            while self.pending or self.inflight:
                self._dispatch()
                ready, _ = self.ray.wait(list(self.inflight), num_returns=1, timeout=POLL_S)
                for ref in ready:
                    result = self._collect(ref, workers)
                    if result is not None:
                        self.results.append(result)
                        if on_result is not None:
                            on_result(result)
                if on_progress is not None:
                    on_progress(self._progress(started))
        except BaseException:
            self._abandon()
            raise
        finally:
            self._release()
        return self.results

    def _dispatch(self) -> None:
        while self.pending and self.idle:
            task, actor = self.pending.popleft(), self.idle.pop()
            self.attempts[task] = self.attempts.get(task, 0) + 1
            self.inflight[actor.run.remote(task, self.board, self.attempts[task])] = (actor, task)

    def _collect(self, ref, workers) -> VideoResult | None:
        ray = self.ray
        actor, task = self.inflight.pop(ref)
        attempts = self.attempts[task]
        try:
            done = ray.get(ref)
        except ray.exceptions.RayActorError as exc:  # the worker process or its node died
            task.remove_partials()
            self.actors -= 1
            if not self._begun(task, attempts):  # handed to an actor that was already dead
                self.unbegun[task] = self.unbegun.get(task, 0) + 1
                if self.unbegun[task] <= UNBEGUN_DEATHS:
                    self.attempts[task] = attempts = attempts - 1
            with contextlib.suppress(Exception):
                ray.kill(actor)
            work_left = self.pending or attempts <= self.retries
            if work_left and self.actors < self.pool_size(workers):  # a shrunk cluster: fewer
                self.idle.append(self.new_actor())
            if attempts <= self.retries:
                self.pending.appendleft(task)
                return None
            reason = f"its worker died {attempts} times ({type(exc).__name__})"
            return _failed(task, attempts, reason)
        except ray.exceptions.RayTaskError as exc:  # a livecam error: not retried
            self.idle.append(actor)
            task.remove_partials()
            cause = exc.cause if exc.cause is not None else exc
            return _failed(task, attempts, last_line(cause))
        self.idle.append(actor)
        return VideoResult(
            str(task.input),
            str(task.output),
            "done",
            frames=done["frames"],
            seconds=round(done["seconds"], 3),
            node=done["node"],
            attempts=attempts,
            reason="; ".join(done["warnings"]) or None,
        )

    def _begun(self, task: VideoTask, attempt: int) -> bool:
        """Whether the worker began ``attempt`` of ``task`` (unknown: assume it did)."""
        try:
            begun = self.ray.get(
                self.board.begun_attempt.remote(str(task.input)), timeout=BOARD_TIMEOUT_S
            )
        except Exception:
            return True
        return begun >= attempt

    def _progress(self, started: float) -> JobProgress:
        """Frames done across the job; the last known count while the board is away."""
        with contextlib.suppress(Exception):  # the board restarts (it lost its counts)
            self.seen = self.ray.get(self.board.counts.remote(), timeout=BOARD_TIMEOUT_S)
        frames, begun = self.seen
        elapsed = time.perf_counter() - started
        return JobProgress(len(self.results), self.total, frames, elapsed, begun)

    def _abandon(self) -> None:
        """Stop every worker and remove what the videos in flight began."""
        for actor, task in self.inflight.values():
            with contextlib.suppress(Exception):
                self.ray.kill(actor)
            task.remove_partials()

    def _release(self) -> None:
        """The job is over: its idle workers and its board end now, not when
        Ray collects their handles."""
        for actor in [*self.idle, self.board]:
            with contextlib.suppress(Exception):
                self.ray.kill(actor)
        self.idle = []


def _failed(task: VideoTask, attempts: int, reason: str) -> VideoResult:
    return VideoResult(
        str(task.input), str(task.output), "failed", attempts=attempts, reason=reason
    )
