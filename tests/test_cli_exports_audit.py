"""The command line, configuration files and written exports as a careless user meets them (audit findings).

Each test covers one thing the audit found wrong: a config section left empty, YAML errors quoting a secret,
`language: no`, an option in the wrong section, a date-named folder in a config, export flags typed by argparse
instead of their option, `-->` in SubRip text, negative cue times, a lone carriage return in chunks.csv and
`upload` of a folder without a run exiting 1 instead of 2.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd
import pytest

from preannotate import cli
from preannotate.chunking import Chunk
from preannotate.config import load_config
from preannotate.errors import ConfigError
from preannotate.exports import ItemChunks, write_exports
from preannotate.options import AnnotationOptions
from preannotate.spreadsheet import raw_cell
from preannotate.subtitles import srt_text, vtt_text

TOKEN = "myteamsecretname123456=4567"  # a team token's shape: `<name>=<team id>`


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_a_section_left_empty_in_a_file_is_an_empty_section(tmp_path: Path) -> None:
    # configs/default.yaml lists every option: comment out all of a section's and YAML reads the section as null.
    path = write(tmp_path, "transcribe:\n  # language: en\n  # beam_size: 5\nchunking:\n  max_duration: 5\n")
    config = load_config(path)
    assert config.transcribe == load_config().transcribe and config.chunking.max_duration == 5
    assert load_config(path, ["transcribe.language=en"]).transcribe.language == "en"  # --set into it too


@pytest.mark.parametrize(
    "text",
    [
        f"superannotate:\n  project: x\n\ttoken: {TOKEN}\n",  # a tab: YAML's error quotes the line
        f'superannotate:\n  project: "{TOKEN}\n',  # an unclosed quote
        f"superannotate: {{project: {TOKEN}\n",  # an unclosed flow mapping
        "superannotate:\n  project: !!float myteamsecretname123456\n",  # a value YAML cannot construct
    ],
)
def test_yaml_errors_never_quote_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("SA_TOKEN", TOKEN)
    message = config_error(write(tmp_path, text))
    assert "myteamsecretname" not in message and "<hidden>" in message, message


def test_yaml_errors_never_quote_a_url_password(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, "input:\n\tdir: s3://AKIAKEY:verysecretpassword@bucket/calls\n"))
    assert "verysecretpassword" not in message and "<URL with a password>" in message, message


def test_an_error_from_a_yaml_file_chains_nothing_that_quotes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A notebook's `%tb` shows the chained exceptions: PyYAML's own message quotes the line.
    monkeypatch.setenv("SA_TOKEN", TOKEN)
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, f"superannotate:\n\ttoken: {TOKEN}\n"))
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_tab_indentation_is_named_as_the_problem(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, "transcribe:\n\tbeam_size: 5\n"))
    assert "indents with spaces, never tabs" in message


@pytest.mark.parametrize("text", ["transcribe:\n  language: no\n", "superannotate:\n  project: on\n"])
def test_an_unquoted_no_for_a_text_option_says_to_quote_it(tmp_path: Path, text: str) -> None:
    # YAML 1.1 reads `no` (Norwegian) as false; the message showed `False`, which the user never wrote.
    assert "quote the text" in config_error(write(tmp_path, text))


@pytest.mark.parametrize(
    ("override", "suggestion"),
    [
        ("beam_size=5", "did you mean 'transcribe.beam_size'?"),  # the section forgotten
        ("chunking.beam_size=5", "did you mean 'transcribe.beam_size'?"),  # the wrong section
        ("transcribe.device=cpu", "did you mean 'model.device'?"),
        ("model.batch_size=8", "'model.faster_whisper.batch_size'"),
        ("transcribe.BEAM_SIZE=3", "did you mean 'transcribe.beam_size'?"),  # shouted
    ],
)
def test_an_option_in_the_wrong_section_or_case_is_suggested(override: str, suggestion: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(suggestion)):
        load_config(None, [override])


def test_a_folder_named_like_a_date_or_a_number_in_a_file_is_relative_to_the_file(tmp_path: Path) -> None:
    # YAML reads `2024-01-01` as a date and `2024` as a number: still folder names, relative to the config's folder.
    folder = tmp_path / "configs"
    folder.mkdir()
    path = folder / "c.yaml"
    path.write_text("input:\n  dir: 2024-01-01\noutput:\n  dir: 2024\n")
    config = load_config(path)
    assert (config.input.dir, config.output.dir) == (str(folder / "2024-01-01"), str(folder / "2024"))


def test_export_flags_are_read_as_their_option_reads_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from preannotate.correction import dataset

    seen = []

    class Report:
        problems: dict = {}

        def summary_line(self) -> str:
            return "exported"

    def export_from_config(config, input_dir=None):
        seen.append(config.dataset)
        return Report()

    monkeypatch.setattr(dataset, "export_from_config", export_from_config)
    for flags, expected in [
        (["--max-duration", "null"], {"max_duration": None}),  # its help says "null keeps all"; argparse refused it
        (["--max-duration", "60", "--set", "dataset.max_duration=3"], {"max_duration": 60.0}),  # the flag wins
        (["--sample-rate", "8000", "--min-duration", "0.5"], {"sample_rate": 8000, "min_duration": 0.5}),
    ]:
        assert cli.main(["export", "-o", str(tmp_path), *flags]) == cli.EXIT_OK
        assert {name: getattr(seen[-1], name) for name in expected} == expected


def test_an_export_flag_that_is_not_its_option_type_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["export", "-o", str(tmp_path), "--sample-rate", "16k"]) == cli.EXIT_USAGE
    assert "dataset.sample_rate: '16k' is not a valid int" in capsys.readouterr().err


def srt_blocks(text: str) -> list[list[str]]:
    return [block.split("\n") for block in text.strip("\n").split("\n\n")]


def test_srt_cue_text_never_holds_an_arrow(tmp_path: Path) -> None:
    # SubRip has no escapes: a reader takes a line holding `-->` for a timing line (Whisper writes `->`).
    chunks = [
        Chunk(0, 1.0, 2.0, "a --> b"),
        Chunk(1, 2.0, 3.0, "2\n00:00:01,000 --> 00:00:02,000"),
        Chunk(2, 3.0, 4.0, "hello", speaker="A-->B"),
    ]
    write_exports(tmp_path, [ItemChunks("a.wav", "a.wav", "en", 5.0, chunks)], AnnotationOptions())
    text = (tmp_path / "subtitles" / "a.wav.srt").read_text()
    for number, block in enumerate(srt_blocks(text), start=1):
        assert block[0] == str(number) and re.fullmatch(r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}", block[1])
        assert all("-->" not in line for line in block[2:]), block
    assert [block[2] for block in srt_blocks(text)] == ["a -> b", "2 00:00:01,000 -> 00:00:02,000", "[A->B] hello"]


def clock(text: str) -> float:
    hours, minutes, seconds = re.fullmatch(r"(\d{2,}):(\d\d):(\d\d[.,]\d{3})", text).groups()  # type: ignore[union-attr]
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds.replace(",", "."))


def test_subtitle_times_are_never_negative_and_every_cue_ends_after_it_starts() -> None:
    # A start a hair before 0 (a timestamp's rounding, a padding) printed `-1:59:59,800`, which no player reads.
    chunks = [
        Chunk(0, -0.2, 0.3, "before zero"),
        Chunk(1, -0.0004, -0.0001, "all before zero"),
        Chunk(2, 0.9995, 1.0004, "rounds to one millisecond"),
        Chunk(3, 90000.0, 90001.5, "after a day"),
    ]
    for text, separator in ((srt_text(chunks), ","), (vtt_text(chunks).removeprefix("WEBVTT\n\n"), ".")):
        timings = [line for line in text.split("\n") if "-->" in line]
        assert len(timings) == len(chunks)
        for line in timings:
            start, end = line.split(" --> ")
            assert separator in start and clock(start) >= 0 and clock(end) > clock(start), line
    assert "25:00:00,000 --> 25:00:01,500" in srt_text(chunks)


def test_chunks_csv_keeps_a_lone_carriage_return_inside_its_cell(tmp_path: Path) -> None:
    # Python's csv writer quotes `\r` only when the row terminator holds one: a lone `\r` split the row.
    texts = ["one\rtwo", "crlf\r\nend", "line\nbreak", 'quote " and , comma', "=1+2", "שלום 😀"]
    chunks = [Chunk(i, float(i), i + 0.5, t) for i, t in enumerate(texts)]
    write_exports(tmp_path, [ItemChunks("a.wav", "a.wav", "en", 9.0, chunks)], AnnotationOptions())
    raw = (tmp_path / "chunks.csv").read_bytes()
    assert b"\r\n" not in raw.replace(b'"crlf\r\nend"', b"")  # rows end with `\n` as before
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert [raw_cell(row["text"]) for row in rows] == texts
    frame = pd.read_csv(tmp_path / "chunks.csv", keep_default_na=False)
    assert [raw_cell(text) for text in frame["text"]] == texts and frame["chunk"].tolist() == list(range(len(texts)))


def test_upload_of_a_folder_without_a_run_is_2_like_the_other_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sa_clean_env: None
) -> None:
    # Nothing was processed (README's exit codes: 2); `pull`, `report` and `export` already said 2 here, upload 1.
    assert cli.main(["upload", "-o", str(tmp_path)]) == cli.EXIT_USAGE
    assert "run.json is missing (and no journal.jsonl rebuilds it)" in capsys.readouterr().err
