"""What the stages of one run share: the configuration, the report, the model and what each stage hands on."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

from ..asr import PreparedModel
from ..discover import MediaFile
from ..exports import ItemChunks
from ..journal import Replayed
from ..options import RunConfig
from ..report import FileResult, RunReport
from ..review import Reviewer
from ..superannotate import UploadSession
from .decode import Decoding
from .plan import Job
from .transcribe_jobs import Loaded


@dataclasses.dataclass
class RunContext:
    """One run's state, handed from stage to stage.

    Attributes:
        config: The run's configuration.
        report: The run's record; every stage updates its files' results.
        model: The resolved model (loaded only when some file needs transcribing).
        reviewer: The review model that assesses chunks.
        session: The SuperAnnotate session; None for a dry run.
        keys: Each storing stage's resume key, by stage name.
        jobs: The files to transcribe (the others are finished).
        progress: Show progress bars.
        audio: The files' audio, decoded as transcription asks for it (set by the decode stage).
        entries: The chunked items (set by the chunk stage), with `owners`, their results in the report.
        previous: The output folder's last journal, played back (None without one).
        reused: How many finished files were taken from it without reading their transcript.
        kept: The last run's chunk results per file when nothing the check, chunk and export stages read
            changed (`preannotate.run.unchanged`); found before any stage writes run.json. None: they run.
        unchanged: The chunk and export stages kept the last run's results (set by the chunk stage).
        media: The run's media files (what the speakers stage decodes again).
        loaded: The engine loaded for `jobs` and their durations, before the journal started; None without
            jobs, and once the transcribe stage is done with it (its memory is freed for the later stages).
        cluster: What the run leaves when it ends: the Ray session `on_cluster` joined (`joined`), if any.
    """

    config: RunConfig
    report: RunReport
    model: PreparedModel
    reviewer: Reviewer
    session: UploadSession | None
    keys: dict[str, str]
    jobs: list[Job]
    progress: bool = True
    audio: Decoding | None = None
    entries: list[ItemChunks] = dataclasses.field(default_factory=list)
    owners: list[FileResult] = dataclasses.field(default_factory=list)
    previous: Replayed | None = None
    reused: int = 0
    kept: list[dict[str, Any]] | None = None
    unchanged: bool = False
    media: list[MediaFile] = dataclasses.field(default_factory=list)
    loaded: Loaded | None = None
    cluster: contextlib.ExitStack = dataclasses.field(default_factory=contextlib.ExitStack)
    joined: bool = False

    def on_cluster(self) -> None:
        """Joins the run's Ray cluster (or starts its local Ray) unless it did already; the run leaves it at its end.

        One session for every stage that sends work there: a local Ray takes seconds to start, and a cluster's
        actors are placed afresh in each stage either way.

        Raises:
            ConfigError: Ray is not installed, or the cluster cannot be joined.
        """
        if not self.joined:
            from .ray_session import connected  # Ray is an optional extra

            self.cluster.enter_context(connected(self.config.ray))
            self.joined = True
