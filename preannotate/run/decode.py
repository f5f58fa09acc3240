"""The decode stage: the audio of the files to transcribe, decoded on one background thread as transcription asks.

Decoding runs beside the model, never ahead of what transcription can take: one file ahead when files are
transcribed in turn, exactly the files submitted when several are transcribed at once. In `speakers.mode:
channels` each file decodes to one 16 kHz mono signal per channel (a list), transcribed one after another.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from ..audio import DecodedAudio, decode_audio
from ..options import SilenceOptions
from ..speakers.channels import decode_channel_audio
from .plan import Job

Decoded = DecodedAudio | list[DecodedAudio]  # the whole file mixed to mono, or each of its channels


class Decoding:
    """Decodes files on one background thread; a context manager that cancels what was not started on exit.

    Args:
        channels: Decode each channel of a file apart (`speakers.mode: channels`) instead of mixed to mono;
            quiet stretches are then kept, so that the channels stay on one timeline.
        silence: How long quiet stretches are cut out as files decode (None: never).
    """

    def __init__(self, channels: bool = False, silence: SilenceOptions | None = None) -> None:
        self.silence = None if channels else silence
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode")  # no thread until a submit
        self._channels = channels

    def stream(self, jobs: list[Job], ahead: int) -> Iterator[tuple[Job, Future[Decoded]]]:
        """Yields each job with its decoding started, and that of the next `ahead` jobs too.

        Args:
            jobs: The files to decode, in the order they are transcribed.
            ahead: How many more files decode while the one yielded is transcribed.
        """
        pending: deque[tuple[Job, Future[Decoded]]] = deque()
        for job in jobs:
            pending.append((job, self._pool.submit(self._decode, job.media.path)))
            if len(pending) > ahead:
                yield pending.popleft()
        yield from pending

    def _decode(self, path: str | Path) -> Decoded:
        return decode_channel_audio(path) if self._channels else decode_audio(path, self.silence)

    def __enter__(self) -> Decoding:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._pool.shutdown(cancel_futures=True)
