"""Channels as speakers: the transcripts of a file's channels merged into one, every segment with its speaker.

Each channel is transcribed on its own, so every word is its channel's by construction. The segments of
all channels go on one timeline, in order of start (a tie keeps channel order); each keeps its words and
gets its channel's speaker name. `meta.channels` lists the names in channel order: chunking renames the
speakers from it when `speakers.channel_names` changed, without transcribing again (`with_channel_names`).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import replace

from preannotate.errors import TranscriptionError
from preannotate.results import Transcript
from preannotate.speakers.channels import channel_names

CHANNELS_META = "channels"  # the key of the speaker names, in channel order, in a merged transcript's meta


def merge_channels(transcripts: Sequence[Transcript], names: Sequence[str]) -> Transcript:
    """One transcript from the transcripts of a file's channels, in the same order as `names`.

    Its language is that of the channel with the most speech (the first one when none has any);
    its duration the longest channel's.

    Raises:
        ValueError: `transcripts` is empty or its length differs from `names`.
    """
    if not transcripts or len(transcripts) != len(names):
        raise ValueError(f"{len(transcripts)} channel transcripts for {len(names)} names")
    # A merge, not a sort: each channel's segments stay in their order even where the model's times do not.
    tagged = heapq.merge(*([(c, s) for s in t.segments] for c, t in enumerate(transcripts)), key=lambda e: e[1].start)
    segments = tuple(replace(s, id=i, speaker=names[c]) for i, (c, s) in enumerate(tagged))
    main = max(transcripts, key=lambda t: sum(s.end - s.start for s in t.segments))  # max keeps the first of equals
    return Transcript(
        text=" ".join(s.text.strip() for s in segments if s.text.strip()),
        language=main.language,
        segments=segments,
        duration=max(t.duration for t in transcripts),
        language_probability=main.language_probability,
        meta={CHANNELS_META: list(names)},
    )


def with_channel_names(transcript: Transcript, given: Sequence[str]) -> Transcript:
    """The merged transcript with its speakers named by `speakers.channel_names` as they are now.

    Raises:
        TranscriptionError: The transcript was not made per channel (no `meta.channels`).
        ConfigError: The names give two channels the same name.
    """
    stored = transcript.meta.get(CHANNELS_META)
    if not isinstance(stored, list) or not all(isinstance(n, str) for n in stored):
        raise TranscriptionError("it was not transcribed per channel (meta.channels is missing)")
    names = channel_names(len(stored), tuple(given))
    if names == stored:
        return transcript
    renamed = dict(zip(stored, names))
    segments = tuple(replace(s, speaker=renamed.get(s.speaker or "", s.speaker)) for s in transcript.segments)
    return replace(transcript, segments=segments, meta={**transcript.meta, CHANNELS_META: names})
