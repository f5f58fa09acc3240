"""The decode stage: the audio of the files to transcribe, decoded on one background thread as transcription asks.

Decoding runs beside the model, never ahead of what transcription can take: one file ahead when files are
transcribed in turn, exactly the files submitted when several are transcribed at once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

from ..audio import DecodedAudio, decode_audio
from ..options import SilenceOptions
from .plan import Job


class Decoding:
    """Decodes files on one background thread; a context manager that cancels what was not started on exit.

    Args:
        silence: How long quiet stretches are cut out as files decode (None: never).
    """

    def __init__(self, silence: SilenceOptions | None = None) -> None:
        self.silence = silence
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode")  # no thread until a submit

    def stream(self, jobs: list[Job], ahead: int) -> Iterator[tuple[Job, Future[DecodedAudio]]]:
        """Yields each job with its decoding started, and that of the next `ahead` jobs too.

        Args:
            jobs: The files to decode, in the order they are transcribed.
            ahead: How many more files decode while the one yielded is transcribed.
        """
        pending: deque[tuple[Job, Future[DecodedAudio]]] = deque()
        for job in jobs:
            pending.append((job, self._pool.submit(decode_audio, job.media.path, self.silence)))
            if len(pending) > ahead:
                yield pending.popleft()
        yield from pending

    def __enter__(self) -> Decoding:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._pool.shutdown(cancel_futures=True)
