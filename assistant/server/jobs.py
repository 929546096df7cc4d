"""Ingestion jobs: uploaded files are parsed, embedded and stored by one background worker, so the
chat never waits for them; each job's progress and per-file outcomes can be polled."""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from assistant import pipeline
from assistant.backends import Backends
from assistant.errors import AssistantError, JobNotFound
from assistant.records import IngestOutcome, IngestReport, SourceFile

log = logging.getLogger(__name__)
JobState = Literal["queued", "running", "done", "failed"]
STALE_UPLOAD_SECONDS = 3600
KEPT_JOBS = 200  # finished jobs remembered for polling; older ones are forgotten


@dataclass(slots=True)
class Job:
    """One upload's ingestion. `stage`/`done`/`total` follow the pipeline's progress ("parse" counts
    files, "embed" counts chunks); `outcomes` holds one entry per document once the job ends."""

    id: str
    files: list[str]
    state: JobState = "queued"
    stage: str | None = None
    done: int = 0
    total: int = 0
    outcomes: list[IngestOutcome] = field(default_factory=list)
    error: str | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None

    @property
    def ended(self) -> bool:
        """Whether the job is over: its state, which the worker sets last (`finished` is set just before)."""
        return self.state in ("done", "failed")

    def outcomes_of(self, name: str) -> list[IngestOutcome]:
        """The outcomes of one file: its document, or its records (`name#id`) and rejected lines
        (`name:line`) for JSONL. Upload names never hold `#` or `:`, so prefixes cannot collide."""
        prefixes = (f"{name}#", f"{name}:")
        return [o for o in list(self.outcomes) if o.source == name or o.source.startswith(prefixes)]


class IngestJobs:
    """A queue of ingestion jobs and the one thread that works through it (the store takes one writer
    at a time anyway). Files given to `submit` are moved into the job's own folder and deleted when the
    job ends: the stored document keeps the text."""

    def __init__(self, backends: Backends, folder: Path) -> None:
        self.backends = backends
        self.folder = folder
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._queue: queue.Queue[tuple[Job, list[SourceFile]] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._remove_stale_folders()
        self._worker = threading.Thread(target=self._work, name="ingest-jobs", daemon=True)
        self._worker.start()

    def _remove_stale_folders(self) -> None:
        """Uploads a stopped or crashed server never ingested. Only old ones: another server may share
        the data folder, and its folders of the last hour may still be queued."""
        if not self.folder.is_dir():
            return
        cutoff = time.time() - STALE_UPLOAD_SECONDS
        for path in self.folder.iterdir():
            if path.is_dir() and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)

    def new_folder(self) -> tuple[str, Path]:
        """An id and an empty folder for the files of a job about to be submitted."""
        job_id = uuid.uuid4().hex[:16]
        path = self.folder / job_id
        path.mkdir(parents=True)
        return job_id, path

    def discard(self, job_id: str) -> None:
        """Remove the folder of a job that will not be submitted (every file was refused)."""
        shutil.rmtree(self.folder / job_id, ignore_errors=True)

    def submit(self, job_id: str, files: list[SourceFile]) -> Job:
        job = Job(job_id, [source.name for source in files], total=len(files))
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        self._queue.put((job, files))
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            if job_id not in self._jobs:
                raise JobNotFound(f"no ingestion job {job_id!r}")
            return self._jobs[job_id]

    def all(self) -> list[Job]:
        with self._lock:
            return list(reversed(self._jobs.values()))

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking jobs; the one running finishes (a half-written document is never left)."""
        self._queue.put(None)
        self._worker.join(timeout)

    def _forget_old(self) -> None:
        finished = [job.id for job in self._jobs.values() if job.finished is not None]
        for job_id in finished[: max(0, len(self._jobs) - KEPT_JOBS)]:
            del self._jobs[job_id]

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            job, files = item
            try:
                self._run(job, files)
            finally:
                shutil.rmtree(self.folder / job.id, ignore_errors=True)

    def _run(self, job: Job, files: list[SourceFile]) -> None:
        job.state = "running"

        def progress(stage: str, done: int, total: int) -> None:
            job.stage, job.done, job.total = stage, done, total

        report = IngestReport()
        job.outcomes = report.outcomes  # filled as the job goes: a refused file shows before the rest are stored
        state: JobState = "done"
        try:
            pipeline.ingest(files, self.backends, on_progress=progress, report=report)
        except AssistantError as error:
            state, job.error = "failed", error.message
        except Exception:  # a bug must not kill the worker and leave every later job queued
            log.exception("ingestion job %s failed", job.id)
            state, job.error = "failed", "internal error while ingesting; see the server log"
        job.finished = time.time()
        job.state = state  # last: a poller that sees the end sees everything else
