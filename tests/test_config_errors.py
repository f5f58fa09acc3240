"""Bad configuration the audit found crashing or accepted: each is one ConfigError line before any work."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from preannotate import config_yaml
from preannotate.cli import EXIT_USAGE, main
from preannotate.config import load_config
from preannotate.errors import ConfigError

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "en"
NOT_UTF8 = os.fsdecode(b"a\xffb")  # how Python hands over a command-line argument holding the byte 0xff


def error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The one line `preannotate run ARGS` (on the samples) prints, after checking it exits with 2 before any work."""
    output = tmp_path / "out"
    assert main(["run", *args, "-i", str(SAMPLES), "-o", str(output)]) == EXIT_USAGE
    assert not output.exists()
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "c.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_a_config_file_that_is_not_utf8_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, b"\xff\xfe bad")
    line = error_line(tmp_path, capsys, str(path))
    assert line == f"preannotate: error: config {path} is not UTF-8 text (byte 0xff at offset 0)"


@pytest.mark.parametrize(
    ("text", "where"),
    [("a: &a [*a]\n", "a[0]"), ("model: &m {faster_whisper: [1, *m]}\n", "model.faster_whisper[1]")],
)
def test_an_alias_inside_its_own_anchor_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, where: str
) -> None:
    line = error_line(tmp_path, capsys, str(write(tmp_path, text)))
    assert f"{where} refers back to a collection holding it" in line


def test_an_anchor_used_many_times_is_still_fine(tmp_path: Path) -> None:
    path = write(tmp_path, "input: {extensions: &e [.wav, .mp3]}\nspeakers: {channel_names: *e}\n")
    config = load_config(path)
    assert config.input.extensions == config.speakers.channel_names == (".wav", ".mp3")


def test_aliases_of_aliases_are_refused_before_any_check_walks_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "billion laughs": 10^(n+1) values from n+1 lines; at 10^7 the secret check alone walked for minutes.
    monkeypatch.setattr(config_yaml, "MAX_VALUES", 10_000)  # the same walk, a smaller document
    levels = ["&l0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"&l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 4)]
    path = write(tmp_path, f"transcribe: {{temperature: [{', '.join(levels)}]}}\n")
    with pytest.raises(ConfigError, match="its aliases expand to more than 10,000 values"):
        load_config(path)


def test_a_value_yaml_cannot_construct_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="holds a value YAML cannot read: month must be in 1..12"):
        load_config(write(tmp_path, "superannotate:\n  project: 2024-13-45\n"))


def test_set_text_that_is_not_utf8_is_refused_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = error_line(tmp_path, capsys, "--set", f"transcribe.initial_prompt={NOT_UTF8}")
    assert line == "preannotate: error: transcribe.initial_prompt: the value is not valid UTF-8 text (character 2)"
    with pytest.raises(ConfigError, match=r"speakers.channel_names\[1\]: the value is not valid UTF-8"):
        load_config(None, [f"speakers.channel_names=[left, {NOT_UTF8}]"])


def test_a_path_may_hold_bytes_that_are_not_utf8() -> None:
    # A folder written by a Latin-1 system (`café`) is a real folder: the run reads and records its name.
    folder = os.fsdecode(b"/data/caf\xe9")
    assert load_config(None, [f"input.dir={folder}"], {"output.dir": folder}).input.dir == folder


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("chunking.max_duration=inf", "chunking.max_duration: 'inf' is not a finite number"),
        ("chunking.max_duration=1e400", "chunking.max_duration: '1e400' is not a finite number"),
        ("chunking.max_duration=nan", "chunking.max_duration: 'nan' is not a finite number"),
        ("chunking.word_stretch=inf", "chunking.word_stretch: 'inf' is not a finite number"),
        ("transcribe.temperature=[0.0, inf]", "transcribe.temperature: 'inf' is not a finite number"),
        ("transcribe.logprob_threshold=-inf", "transcribe.logprob_threshold: '-inf' is not a finite number"),
        ("superannotate.url_expiry_hours=nan", "superannotate.url_expiry_hours: 'nan' is not a finite number"),
        ("transcribe.clip_timestamps=0,inf", "transcribe.clip_timestamps must be finite seconds"),
    ],
)
def test_every_float_option_refuses_infinity_and_nan(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    assert message in str(err.value)


def test_infinity_in_a_config_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="chunking.max_duration: inf is not a finite number"):
        load_config(write(tmp_path, "chunking: {max_duration: .inf}\n"))
    with pytest.raises(ConfigError, match="chunking.gap_threshold: inf is not a finite number"):
        load_config(write(tmp_path, "chunking: {gap_threshold: 1" + "0" * 400 + "}\n"))  # an int beyond a float


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("transcribe.beam_size=99999999999999999999", "transcribe.beam_size must be <= 100"),
        ("transcribe.best_of=101", "transcribe.best_of must be <= 100"),
        ("transcribe.patience=1e300", "transcribe.patience must be <= 100"),
        ("transcribe.patience=0.1", "transcribe.patience x beam_size must be >= 1, got 0.1 x 5"),
        ("transcribe.suppress_tokens=-1,99999", "token ids in [0, 51864), got [99999]"),
        ("transcribe.suppress_tokens=-5", "token ids in [0, 51864), got [-5]"),
        ("model.faster_whisper.cpu_threads=99999999999999999999", "cpu_threads must be in [0, 1024]"),
        ("model.faster_whisper.num_workers=5000", "num_workers must be in [0, 1024]"),
        ("model.faster_whisper.batch_size=5000", "batch_size must be in [0, 1024]"),
        ("model.faster_whisper.vad_parameters.speech_pad_ms=1" + "0" * 30, "speech_pad_ms must be in [0, 86400000]"),
        ("input.extensions=", "input.extensions must name at least one file ending"),
        ("input.extensions=[]", "input.extensions must name at least one file ending"),
    ],
)
def test_decoder_numbers_have_sane_bounds(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, ["model.engine=faster-whisper", override])
    assert message in str(err.value)


def test_the_bounds_leave_demanding_settings_alone() -> None:
    fw = "model.faster_whisper"
    config = load_config(None, ["transcribe.beam_size=100", "transcribe.best_of=100", "transcribe.patience=2",
                                "transcribe.suppress_tokens=-1,50257,51863", "model.engine=faster-whisper",
                                f"{fw}.cpu_threads=1024", f"{fw}.batch_size=256"])  # fmt: skip
    assert (config.transcribe.beam_size, config.model.faster_whisper.batch_size) == (100, 256)
    assert load_config(None, ["transcribe.beam_size=1", "transcribe.patience=1"]).transcribe.patience == 1.0


def test_the_cli_refuses_an_overflowing_beam_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = error_line(tmp_path, capsys, "--set", "transcribe.beam_size=99999999999999999999")
    assert line == "preannotate: error: transcribe.beam_size must be <= 100"


def test_a_dotted_key_in_a_file_says_to_nest_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, '"model.name": bundled:tiny.en\n'))
    message = str(err.value)
    assert "unknown option 'model.name'" in message and "did you mean" not in message
    assert "nest it (model: {name: ...}) or use --set model.name=..." in message
    with pytest.raises(ConfigError, match=r"nest it \(vad_parameters: \{threshold: ...\}\) or use --set "
                                          r"model.faster_whisper.vad_parameters.threshold="):  # fmt: skip
        load_config(write(tmp_path, "model:\n  faster_whisper:\n    vad_parameters.threshold: 0.4\n"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model:\n  name: bundled:tiny.en\ntranscribe: {}\nmodel:\n  device: cpu\n", "'model' appears twice"
         " in one mapping (lines 1 and 4)"),
        ("transcribe:\n  beam_size: 1\n  language: en\n  beam_size: 2\n", "'beam_size' appears twice in one"
         " mapping (lines 2 and 4)"),
        ("model: {name: bundled:tiny.en, name: bundled:base}\n", "'name' appears twice in one mapping (line 1,"
         " columns 9 and 32)"),
    ],
)  # fmt: skip
def test_a_key_repeated_in_a_file_is_refused_naming_it_and_its_lines(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"config {path}: key {message}; keep one"


def test_a_key_brought_in_by_a_merge_may_still_be_overridden(tmp_path: Path) -> None:
    path = write(tmp_path, "dataset:\n  <<: {min_duration: 0.2, sample_rate: 8000}\n  min_duration: 0.3\n")
    assert (load_config(path).dataset.min_duration, load_config(path).dataset.sample_rate) == (0.3, 8000)
