from pathlib import Path

import pytest

from preannotate.config import config_to_dict, load_config
from preannotate.errors import ConfigError
from preannotate.options import DEFAULT_TEMPERATURE, RunConfig

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def test_defaults_follow_whisper_transcribe():
    import inspect

    import whisper

    sig = inspect.signature(whisper.transcribe).parameters
    opts = RunConfig().transcribe
    same = ("compression_ratio_threshold", "logprob_threshold", "no_speech_threshold", "condition_on_previous_text",
            "initial_prompt", "carry_initial_prompt", "prepend_punctuations", "append_punctuations",
            "clip_timestamps", "hallucination_silence_threshold")  # fmt: skip
    for name in same:
        assert getattr(opts, name) == sig[name].default, name
    assert opts.temperature == sig["temperature"].default == DEFAULT_TEMPERATURE
    # The one documented difference: chunk boundaries need word timings.
    assert sig["word_timestamps"].default is False and opts.word_timestamps is True


def test_every_whisper_option_is_configurable():
    import inspect

    import whisper
    from whisper.decoding import DecodingOptions

    fields = set(config_to_dict(RunConfig())["transcribe"])
    transcribe_args = set(inspect.signature(whisper.transcribe).parameters) - {
        "model",
        "audio",
        "verbose",
        "decode_options",
    }
    decoding = {"task", "language", "beam_size", "best_of", "patience", "length_penalty", "suppress_tokens",
                "suppress_blank", "fp16"}  # fmt: skip
    assert transcribe_args <= fields
    assert decoding <= fields and decoding <= set(DecodingOptions.__dataclass_fields__)


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("transcribe:\n  beam_size: 5\n  temperature: 0\nmodel:\n  name: bundled:tiny.en\n")
    config = load_config(path, ["transcribe.language=es", "output.dir=out", "transcribe.clip_timestamps=0,30"])
    assert config.transcribe.beam_size == 5
    assert config.transcribe.temperature == (0.0,)
    assert config.transcribe.language == "es"
    assert config.transcribe.clip_timestamps == "0,30"
    assert config.output.dir == "out"
    assert config.model.name == "bundled:tiny.en"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("transcribe.beam_sise=5", "did you mean 'transcribe.beam_size'"),
        ("transcrbe.beam_size=5", "did you mean 'transcribe'"),
        ("transcribe.beam_size=0", "beam_size must be >= 1"),
        ("transcribe.beam_size=five", "transcribe.beam_size: 'five' is not a valid int"),
        ("transcribe.temperature=[0.0, 1.5]", "temperature values must be in [0, 1]"),
        ("transcribe.task=summarize", "is not one of 'transcribe', 'translate'"),
        ("transcribe.length_penalty=2", "length_penalty must be in [0, 1]"),
        ("transcribe.patience=2", None),  # beam search is the default
        ("transcribe.best_of=3", None),
        ("transcribe.clip_timestamps=abc", "comma-separated seconds"),
        ("transcribe.clip_timestamps=10,5", "each end must follow its start"),
        ("transcribe.word_timestamps=false", None),
        ("transcribe.hallucination_silence_threshold=-1", "must be > 0"),
        ("transcribe.condition_on_previous_text=maybe", "not a valid bool"),
        ("model.device=tpu", "is not one of"),
        ("model.token=abc", "secrets never go in a config"),
    ],
)
def test_bad_options_are_clear_errors(override, message):
    if message is None:  # valid on its own
        load_config(None, [override])
        return
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    assert message in str(err.value)


def test_best_of_with_greedy_only_is_rejected():
    with pytest.raises(ConfigError, match="best_of needs a temperature above 0"):
        load_config(None, ["transcribe.temperature=0", "transcribe.best_of=3"])
    # The default best_of (5) goes unused without sampling, as on Whisper's command line: no error.
    assert load_config(None, ["transcribe.temperature=0"]).transcribe.best_of == 5
    load_config(None, ["transcribe.temperature=0", "transcribe.best_of=null"])


def test_patience_needs_beam_search():
    with pytest.raises(ConfigError, match="patience requires beam_size"):
        load_config(None, ["transcribe.beam_size=null", "transcribe.patience=2"])


def test_beam_search_is_the_default_and_greedy_is_one_option_away():
    default = load_config(None, []).transcribe
    assert (default.beam_size, default.best_of, default.patience) == (5, 5, None)
    for value in ("null", "1"):
        greedy = load_config(None, [f"transcribe.beam_size={value}"]).transcribe
        assert greedy.beam_size in (None, 1) and greedy.best_of == 5


def test_hallucination_threshold_needs_words():
    with pytest.raises(ConfigError, match="requires word_timestamps"):
        load_config(None, ["transcribe.word_timestamps=false", "transcribe.hallucination_silence_threshold=2"])


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("transcribe: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(scalar)


def test_shipped_configs_load():
    for path in sorted(CONFIGS.glob("*.yaml")):
        load_config(path)


API_KEY = "Zq8Xr2Lm5Tn7Vb1Kc4Hd9Jf3Gs6Pw0Ay"  # the SDK's API-key shape with a random key's mix
TEAM_TOKEN = "f00dcafe1234deadbeef9876=4321"  # the SDK's team-token shape


@pytest.mark.parametrize(
    ("override", "key"),
    [
        (f"superannotate.project={API_KEY}", "superannotate.project"),
        (f"superannotate.project_description={TEAM_TOKEN}", "superannotate.project_description"),
        (f"transcribe.initial_prompt={API_KEY}", "transcribe.initial_prompt"),
        (f"transcribe.temperature=[0.0, {API_KEY}]", "transcribe.temperature[1]"),
    ],
)
def test_token_like_values_are_refused_without_being_shown(override, key):
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    message = str(err.value)
    assert message.startswith(f"{key}: ") and "SA_TOKEN" in message
    assert API_KEY not in message and TEAM_TOKEN not in message and "f00dcafe1234deadbeef9876" not in message


def test_a_token_in_a_config_file_or_a_bare_set_is_not_echoed(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(f"superannotate:\n  project: {TEAM_TOKEN}\n")
    with pytest.raises(ConfigError, match="superannotate.project: the value looks like a SuperAnnotate token") as err:
        load_config(path)
    assert TEAM_TOKEN not in str(err.value)
    with pytest.raises(ConfigError, match="--set expects key=value") as err:
        load_config(None, [API_KEY])
    assert API_KEY not in str(err.value)


def test_the_environment_token_is_refused_in_any_shape(monkeypatch):
    monkeypatch.setenv("SA_TOKEN", "short-but-real-token=12")
    for value in ("short-but-real-token=12", "prefix short-but-real-token suffix"):
        with pytest.raises(ConfigError, match="looks like a SuperAnnotate token") as err:
            load_config(None, [f"superannotate.project={value}"])
        assert "short-but-real-token" not in str(err.value)


@pytest.mark.parametrize(
    "value",
    ["my_very_long_project_name_2024", "Quarterly-Review-Calls-With-Customers", "speaker=2", "x" * 40,
     "0123456789abcdef0123456789abcdef"],
)  # fmt: skip
def test_ordinary_long_values_are_not_taken_for_tokens(value):
    assert load_config(None, [f"superannotate.project={value}"]).superannotate.project == value
    prefix = f"https://media.example.org/{value}?v=1"
    assert load_config(None, [f"superannotate.url_prefix={prefix}"]).superannotate.url_prefix == prefix
    with pytest.raises(ConfigError, match="looks like a SuperAnnotate token"):  # while a random key of that length is
        load_config(None, [f"superannotate.project={API_KEY}"])


def test_notebook_parameters_holding_secrets_are_refused():
    from preannotate.notebook import config_from_parameters

    for params, key in [({"project": API_KEY}, "project"), ({"overrides": {"superannotate.token": "x"}},
                        "overrides.superannotate.token"), ({"overrides": {"dataset.dir": TEAM_TOKEN}},
                        "overrides.dataset.dir")]:  # fmt: skip
        with pytest.raises(ConfigError) as err:
            config_from_parameters(params)
        assert str(err.value).startswith(f"parameter {key}: ") and API_KEY not in str(err.value)
        assert TEAM_TOKEN not in str(err.value)


@pytest.mark.parametrize("status", ["Completed", "Returned", "Skipped"])
def test_a_draft_is_never_uploaded_as_finished_work(status: str) -> None:
    # pull and export take Completed items for corrections, and the upload guard takes them for human work.
    with pytest.raises(ConfigError, match=f"superannotate.status must be one of .*got '{status}'.*machine draft"):
        load_config(None, [f"superannotate.status={status}"])
    assert load_config(None, ["superannotate.status=QualityCheck"]).superannotate.status == "QualityCheck"


SECRET_KEY = "wJalrXUtnFEMIK7MDENG"  # the secret half of `KEY:SECRET@` in a URL


@pytest.mark.parametrize(
    ("source", "key"),
    [
        ("set", "input.dir"),
        ("file", "superannotate.url_prefix"),
        ("flag", "input.dir"),
    ],
)
def test_a_url_holding_a_password_is_refused_before_run_json_could_keep_it(tmp_path, source, key):
    url = f"s3://AKIAEXAMPLE:{SECRET_KEY}@team-audio/calls" if key == "input.dir" else f"https://u:{SECRET_KEY}@cdn.x/"
    with pytest.raises(ConfigError) as err:
        if source == "set":
            load_config(None, [f"{key}={url}"])
        elif source == "file":
            (tmp_path / "c.yaml").write_text(f"superannotate:\n  url_prefix: '{url}'\n")
            load_config(tmp_path / "c.yaml")
        else:
            load_config(None, values={key: url})
    assert str(err.value).startswith(f"{key}: the URL holds a password: secrets never go in a config")
    assert SECRET_KEY not in str(err.value) and "AKIAEXAMPLE" not in str(err.value)


def test_urls_without_a_password_and_notebook_parameters_with_one(tmp_path):
    from preannotate.notebook import config_from_parameters

    assert load_config(None, ["input.dir=s3://team-audio/calls"]).input.dir == "s3://team-audio/calls"
    for url in ("https://cdn.example.org/a@b", "http://[x"):  # a user name is refused: tests/test_state_files_audit.py
        assert load_config(None, [f"superannotate.url_prefix={url}"]).superannotate.url_prefix == url
    with pytest.raises(ConfigError, match=r"^parameter input_dir: the URL holds a password: secrets are never") as err:
        config_from_parameters({"input_dir": f"gs://k:{SECRET_KEY}@bucket/x"})
    assert SECRET_KEY not in str(err.value)


def test_a_language_spelled_otherwise_is_the_same_language_and_transcribes_nothing_again() -> None:
    """ "English" and "EN" were keyed as typed: every file was transcribed again, to the same transcripts."""
    from preannotate.run.stages import stage_keys

    configs = [load_config(None, [f"transcribe.language={spelled}"]) for spelled in ("en", "English", "EN", " english")]
    assert {c.transcribe.language for c in configs} == {"en"}
    assert len({stage_keys(c, "bundled:tiny.en")["transcribe"] for c in configs}) == 1
    with pytest.raises(ConfigError, match="unknown language 'klingon'"):
        load_config(None, ["transcribe.language=klingon"])
