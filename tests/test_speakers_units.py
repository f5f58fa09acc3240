"""Speakers without a model: the word→speaker rule, speaker counts, channel names, cpWER and DER."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from preannotate.correction.speakers import by_speaker, cpwer, diarization_error_rate
from preannotate.errors import ConfigError
from preannotate.results import Word
from preannotate.speakers import SpeakerCount, Turn, assign_speakers, speaker_of
from preannotate.speakers.channels import channel_names
from preannotate.speakers.diarize import cap_speakers

TURNS = [Turn(0.0, 2.0, "A"), Turn(1.8, 4.0, "B"), Turn(6.0, 8.0, "A")]


def word(start: float, end: float, text: str = "w") -> Word:
    return Word(text, start, end, 0.9)


def test_largest_overlap_wins_per_word() -> None:
    # 1.9-2.3 overlaps A for 0.1 s and B for 0.4 s.
    assert assign_speakers([word(0.5, 1.0), word(1.9, 2.3), word(3.0, 3.5)], TURNS) == ["A", "B", "B"]


def test_overlaps_of_one_speaker_add_up() -> None:
    turns = [Turn(0.0, 1.0, "A"), Turn(1.0, 1.75, "B"), Turn(1.75, 2.0, "A")]
    assert speaker_of(0.5, 2.0, turns) == "A"  # A 0.5 + 0.25 = 0.75 s against B 0.75 s: the tie goes to A
    assert speaker_of(0.75, 2.0, turns) == "B"  # A 0.25 + 0.25 = 0.5 s against B 0.75 s
    assert speaker_of(0.0, 1.5, turns[1::-1]) == "A"  # ties go to the earlier turn, whatever the list order


def test_word_without_overlap_gets_nearest_turn() -> None:
    assert speaker_of(4.3, 4.5, TURNS) == "B"  # 0.3 s after B, 1.5 s before A
    assert speaker_of(5.5, 5.8, TURNS) == "A"  # 0.2 s before A's second turn
    assert speaker_of(9.0, 9.5, TURNS) == "A"
    assert speaker_of(-1.0, -0.5, TURNS) == "A"


def test_no_turns_no_speaker() -> None:
    assert assign_speakers([word(0, 1)], []) == [None]
    assert assign_speakers([], TURNS) == []


def test_turns_need_not_be_sorted() -> None:
    assert assign_speakers([word(6.5, 7.0), word(0.2, 0.4)], TURNS[::-1]) == ["A", "A"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num": 0}, "num_speakers"),
        ({"high": 1.5}, "max_speakers"),
        ({"low": True}, "min_speakers"),
        ({"low": 3, "high": 2}, "more than"),
        ({"num": 2, "high": 3}, "cannot be combined"),
    ],
)
def test_speaker_count_rejects_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SpeakerCount(**kwargs)


def test_speaker_count_most() -> None:
    assert SpeakerCount().most is None
    assert SpeakerCount(num=3).most == 3
    assert SpeakerCount(low=2, high=4).most == 4


def test_cap_speakers_merges_least_talkative_into_closest_voice() -> None:
    turns = [Turn(0, 5, "S1"), Turn(5, 9, "S2"), Turn(9, 10, "S3")]
    centroids = {"S1": np.array([1.0, 0.0]), "S2": np.array([0.0, 1.0]), "S3": np.array([0.1, 0.9])}
    assert [t.speaker for t in cap_speakers(turns, centroids, 2)] == ["S1", "S2", "S2"]
    assert [t.speaker for t in cap_speakers(turns, centroids, 1)] == ["S1", "S1", "S1"]
    assert cap_speakers(turns, centroids, None) == turns
    assert cap_speakers(turns, centroids, 3) == turns


def test_channel_names() -> None:
    assert channel_names(3) == ["ch1", "ch2", "ch3"]
    assert channel_names(2, ("agent", "caller", "spare")) == ["agent", "caller"]
    assert channel_names(3, ("agent",)) == ["agent", "ch2", "ch3"]
    with pytest.raises(ConfigError, match="same name"):
        channel_names(2, ("ch2",))


def test_turn_round_trip() -> None:
    turn = Turn(1.23456, 2.5, "SPEAKER_01")
    assert Turn.from_dict(turn.to_dict()) == Turn(1.235, 2.5, "SPEAKER_01")


REFERENCE = by_speaker([("A", "the cat sat"), ("B", "on the mat"), ("A", "all day")])


def test_cpwer_ignores_speaker_names() -> None:
    score = cpwer(REFERENCE, {"x": "on the mat", "y": "the cat sat all day"})
    assert (score.errors, score.ref_words, score.cpwer) == (0, 8, 0.0)
    assert score.pairs == {"A": "y", "B": "x"}


def test_cpwer_counts_a_word_under_the_wrong_speaker_twice() -> None:
    score = cpwer(REFERENCE, {"x": "the cat sat all", "y": "on the mat day"})
    assert score.errors == 2  # "day" deleted from A's pair and inserted into B's
    assert score.cpwer == pytest.approx(2 / 8)


def test_cpwer_unpaired_speakers() -> None:
    extra = cpwer(REFERENCE, {"x": "the cat sat all day", "y": "on the mat", "z": "hello"})
    assert extra.errors == 1  # the third hypothesis speaker's word is an insertion
    missing = cpwer(REFERENCE, {"x": "the cat sat all day on the mat"})
    assert missing.errors == 6 and missing.pairs["B"] is None  # 3 inserted under A, 3 deleted from B
    assert cpwer({}, {}).cpwer is None


def test_der_perfect_and_confused() -> None:
    reference = [Turn(0, 10, "A"), Turn(10, 20, "B")]
    assert diarization_error_rate(reference, [Turn(0, 10, "x"), Turn(10, 20, "y")]) == 0.0
    # 5 s of B under A's label; the collar leaves out 0.125 s either side of 0, 10 and 20 s (and of 15 s).
    der = diarization_error_rate(reference, [Turn(0, 15, "x"), Turn(15, 20, "y")])
    assert der == pytest.approx(4.875 / 19.5, abs=1e-6)
    assert diarization_error_rate(reference, []) == 1.0


def test_speakers_options_section() -> None:
    from preannotate.config import config_from_dict
    from preannotate.options import SpeakerOptions

    assert SpeakerOptions().mode == "none"  # the default leaves every output as before
    config = config_from_dict({"speakers": {"channel_names": ["agent", "caller"]}})
    assert config.speakers.channel_names == ("agent", "caller")
    counted = config_from_dict({"speakers": {"mode": "diarize", "min_speakers": 2, "max_speakers": 4}}).speakers
    assert counted.count() == SpeakerCount(low=2, high=4)
    for bad, message in (
        ({"mode": "voices"}, "speakers.mode"),
        ({"channel_names": ["a", "a"]}, "repeats"),
        ({"num_speakers": 0}, "num_speakers"),
        ({"min_speakers": 3, "max_speakers": 2}, "more than"),
    ):
        with pytest.raises(ConfigError, match=message):
            config_from_dict({"speakers": bad})
    assert config_from_dict({"speakers": {"mode": "channels"}}).speakers.mode == "channels"
    with pytest.raises(ConfigError, match="channels runs with run.executor local only"):
        config_from_dict({"speakers": {"mode": "channels"}, "run": {"executor": "ray"}})


def test_chunked_model_gives_the_whole_batch_result() -> None:
    import torch

    from preannotate.speakers.diarize import Chunked

    model = torch.nn.Conv1d(4, 3, 3).eval()
    batch = torch.randn(19, 4, 30)
    with torch.no_grad():
        assert torch.equal(Chunked(model, 8)(batch), model(batch))


def test_torch_threads_puts_the_count_back() -> None:
    import torch

    from preannotate.speakers.diarize import torch_threads

    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_a_diarization_warning_is_said_again_when_its_turns_are_reused(tmp_path: Path) -> None:
    """One speaker for words diarization found no voice for: warned when diarized, lost from run.json after."""
    from types import SimpleNamespace

    from preannotate.naming import MediaFile
    from preannotate.report import FileResult, RunReport
    from preannotate.run import speakers as stage

    source = {"path": "a.wav", "size": 10, "mtime_ns": 1, "sha256": "ab" * 32}
    transcripts = tmp_path / "transcripts"
    transcripts.mkdir()
    (transcripts / "a.wav.json").write_text(json.dumps({"text": "Hi.", "duration": 0.4, "meta": {"source": source}}))
    media = MediaFile(tmp_path / "a.wav", "a.wav", "a.wav")
    ctx = SimpleNamespace(report=RunReport(tmp_path, {}), keys={"speakers": "k1"})
    first = FileResult("a.wav", "a.wav", "ok")
    job = stage._pending(ctx, first, media)
    assert job is not None
    stage._store(ctx, job, [])  # no turn found for its words
    assert first.warnings == [f"diarization found no speaker turn (too short?): every word is {stage.ONE_SPEAKER}'s"]
    again = FileResult("a.wav", "a.wav", "skipped")
    assert stage._pending(ctx, again, media) is None  # the stored turns fit: reused
    assert again.warnings == first.warnings
