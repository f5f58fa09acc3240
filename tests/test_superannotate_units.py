"""Unit tests of the SuperAnnotate wrapper: credentials, redaction, retries, URLs, checks, ledger."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import types
import typing
from pathlib import Path

import pytest
from support.sa_server import SuperAnnotateServer
from typing_extensions import NotRequired, Required

from preannotate.config import load_config
from preannotate.errors import ConfigError, CredentialsError, UploadError
from preannotate.options import SuperAnnotateOptions
from preannotate.superannotate import credentials, redact
from preannotate.superannotate.client import UploadSession, _translate
from preannotate.superannotate.credentials import find_credentials
from preannotate.superannotate.ledger import Ledger, annotation_sha256
from preannotate.superannotate.plan import PlannedItem
from preannotate.superannotate.retry import RetryPolicy, call_with_retry, is_transient
from preannotate.superannotate.send import upload_batch as _upload_batch
from preannotate.superannotate.urls import UrlMap, prefix_url
from preannotate.superannotate.validate import annotation_essentials, annotation_problems, class_index

TEAM_TOKEN = "unit-test-secret-token=77"
API_KEY = "A" * 20 + "-_b" * 6


@pytest.fixture(autouse=True)
def _clean(sa_clean_env: None) -> None:
    pass


# credentials


def test_token_from_environment_with_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SA_TOKEN", TEAM_TOKEN)
    monkeypatch.setenv("SA_URL", "http://127.0.0.1:9")
    found = find_credentials()
    assert found.source == "SA_TOKEN" and found.url == "http://127.0.0.1:9"
    assert TEAM_TOKEN not in repr(found)
    assert found.sdk_config()["SA_TOKEN"] == TEAM_TOKEN


def test_api_key_shape_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SA_TOKEN", API_KEY)
    assert find_credentials().token == API_KEY


@pytest.mark.parametrize("token", ["short", "has space=1", "name=notanumber", "ünïcode-token-ünïcode-token-ünïcode"])
def test_malformed_tokens_are_refused_without_being_shown(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    monkeypatch.setenv("SA_TOKEN", token)
    with pytest.raises(CredentialsError, match="malformed") as error:
        find_credentials()
    assert token not in str(error.value)


@pytest.mark.parametrize(
    "url", ["http://gw:SaUrlPass77@/user/ME", "api.example.com", "htp://api.example.com", "https://", "http://h:99999"]
)
def test_an_sa_url_no_request_could_reach_is_refused_before_any_call(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Before, each call was made and retried with backoff as if the platform were down (requests' InvalidURL)."""
    monkeypatch.setenv("SA_TOKEN", TEAM_TOKEN)
    monkeypatch.setenv("SA_URL", url)
    with pytest.raises(CredentialsError, match="SA_URL is not an http.s. URL with a host") as error:
        find_credentials()
    assert "SaUrlPass77" not in str(error.value)


def test_colab_secret_only_inside_colab(monkeypatch: pytest.MonkeyPatch) -> None:
    userdata = types.SimpleNamespace(get=lambda key: TEAM_TOKEN if key == "SA_TOKEN" else None)
    colab = types.ModuleType("google.colab")
    colab.userdata = userdata  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    assert find_credentials() is None  # google.colab not imported: not Colab
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    assert find_credentials().source == "Colab secret SA_TOKEN"


def test_missing_colab_secret_is_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(key: str) -> str:
        raise RuntimeError("SecretNotFoundError")

    colab = types.ModuleType("google.colab")
    colab.userdata = types.SimpleNamespace(get=missing)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    assert find_credentials() is None


def test_sdk_config_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(credentials, "SDK_CONFIG_DIR", tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"token": TEAM_TOKEN, "main_endpoint": "http://h"}))
    assert find_credentials().url == "http://h"
    (tmp_path / "config.ini").write_text(f"[DEFAULT]\nSA_TOKEN = {TEAM_TOKEN}\nVERIFY_SSL = false\n")
    found = find_credentials()
    assert found.source.endswith("config.ini") and not found.verify_ssl
    monkeypatch.setenv("SA_TOKEN", API_KEY)
    assert find_credentials().token == API_KEY  # the environment wins


def test_unreadable_config_file_does_not_quote_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(credentials, "SDK_CONFIG_DIR", tmp_path)
    (tmp_path / "config.json").write_text('{"token": "' + TEAM_TOKEN)
    with pytest.raises(CredentialsError) as error:
        find_credentials()
    assert TEAM_TOKEN not in str(error.value) and error.value.__cause__ is None


def test_token_is_not_an_option() -> None:
    with pytest.raises(ConfigError, match="SA_TOKEN"):
        load_config(None, ["superannotate.token=abc"])


# redaction


def test_redaction_of_messages_logs_and_chains(caplog: pytest.LogCaptureFixture) -> None:
    redact.register_secret(TEAM_TOKEN)
    assert redact.redact(f"header {TEAM_TOKEN} and {TEAM_TOKEN.split('=')[0]}") == "header *** and ***"
    log = redact.get_logger("preannotate.superannotate.test")
    with caplog.at_level(logging.DEBUG):
        log.warning("token is %s", TEAM_TOKEN)
        try:
            raise ValueError(TEAM_TOKEN)
        except ValueError:
            log.exception("failed")
    assert TEAM_TOKEN not in caplog.text and "***" in caplog.text
    error = RuntimeError(f"bad {TEAM_TOKEN}")
    assert redact.clean_cause(error) is None and redact.clean_cause(RuntimeError("fine")) is not None
    translated = _translate(error, "doing x")
    assert TEAM_TOKEN not in str(translated)


def test_sdk_errors_are_translated() -> None:
    auth = type("SAAuthError", (Exception,), {})("Invalid credentials provided.")
    assert isinstance(_translate(auth, "connecting"), CredentialsError)
    assert isinstance(
        _translate(Exception("Unable to retrieve user data. Please verify your credentials."), "x"), CredentialsError
    )
    other = _translate(Exception("Too many requests"), "uploading")
    assert isinstance(other, UploadError) and "gave up after retrying" in str(other)


# retries


@pytest.mark.parametrize(
    ("message", "transient"),
    [
        ("Too many requests", True),
        ("Our service is currently unavailable, please try again later.", True),
        ("Unknown exception: ('Connection aborted.', RemoteDisconnected('x'))", True),
        ("Server error", True),
        ("Project not found.", False),
        ("Invalid status provided.", False),
        # requests refuses the URL itself; the SDK wraps it as "Unknown exception", which reads as transient
        ("Unknown exception: Failed to parse: Host 'exa mple.com' contains invalid character ' '.", False),
        ("Unknown exception: No connection adapters were found for 'htp://a/b'.", False),
    ],
)
def test_transient_errors_are_recognised(message: str, transient: bool) -> None:
    assert is_transient(Exception(message)) is transient


def test_retry_backs_off_and_gives_up() -> None:
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=4, backoff_seconds=0.5, sleep=waits.append)
    calls = iter([ConnectionError("reset"), TimeoutError(), Exception("429"), "ok"])

    def call() -> str:
        value = next(calls)
        if isinstance(value, BaseException):
            raise value
        return value

    assert call_with_retry(call, "x", policy) == "ok" and waits == [0.5, 1.0, 2.0]
    with pytest.raises(ConnectionError):
        call_with_retry(lambda: (_ for _ in ()).throw(ConnectionError()), "x", RetryPolicy(2, 0, waits.append))
    with pytest.raises(ValueError):
        call_with_retry(lambda: int("x"), "x", policy)  # not transient: no retry
    assert list(RetryPolicy(10, 20).delays())[-1] == 60.0


class FakeSession:
    """Stands in for UploadSession: answers upload calls from a script."""

    def __init__(self, answers: list, held: dict | None = None) -> None:
        self.answers, self.held, self.uploads = answers, held or {}, []
        self.policy = RetryPolicy(3, 0.0, sleep=lambda s: None)

    def upload(self, project: str, annotations: list[dict]) -> dict:
        self.uploads.append([a["metadata"]["name"] for a in annotations])
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def get_annotations(self, project: str, names: list[str]) -> list[dict]:
        return [self.held[n] for n in names if n in self.held]


def planned(name: str) -> PlannedItem:
    return PlannedItem(name, name, Path(f"{name}.json"), {"metadata": {"name": name}, "instances": []})


def test_batch_retries_only_failed_items() -> None:
    session = FakeSession([{"succeeded": ["a"], "failed": ["b"], "skipped": []}, {"succeeded": ["b"]}])
    outcome = _upload_batch(session, "P", [planned("a"), planned("b")], verify=False)  # type: ignore[arg-type]
    assert outcome == {"a": None, "b": None} and session.uploads == [["a", "b"], ["b"]]


def test_batch_gives_up_after_bounded_attempts_and_reports_errors() -> None:
    failing = {"succeeded": [], "failed": ["a"], "skipped": []}
    session = FakeSession([failing, failing, failing])
    assert _upload_batch(session, "P", [planned("a")], verify=False)["a"].startswith("not uploaded")  # type: ignore[arg-type]
    session = FakeSession([UploadError("uploading failed: boom")])
    assert _upload_batch(session, "P", [planned("a")], verify=False) == {"a": "uploading failed: boom"}  # type: ignore[arg-type]


def test_batch_read_back_catches_a_lost_upload() -> None:
    a, b = planned("a"), planned("b")
    session = FakeSession([{"succeeded": ["a", "b"]}, {"succeeded": ["b"]}], held={"a": a.annotation})
    scripted = session.upload

    def upload(project: str, annotations: list[dict]) -> dict:
        result = scripted(project, annotations)
        if len(session.uploads) == 2:  # b is reported uploaded both times, but only held after the second
            session.held["b"] = b.annotation
        return result

    session.upload = upload  # type: ignore[method-assign]
    outcome = _upload_batch(session, "P", [a, b], verify=True)  # type: ignore[arg-type]
    assert outcome == {"a": None, "b": None} and session.uploads == [["a", "b"], ["b"]]


# URLs


def test_url_prefix_quotes_paths() -> None:
    assert prefix_url("https://h/a/", "x y/ü#1.mp3") == "https://h/a/x%20y/%C3%BC%231.mp3"
    assert UrlMap(prefix="s3://bucket").url_for("i", "d/f.wav") == "s3://bucket/d/f.wav"
    assert UrlMap().url_for("i", "f.wav") is None


def test_url_csv_by_name_and_path(tmp_path: Path) -> None:
    csv = tmp_path / "u.csv"
    csv.write_text(
        f"Name,Path,URL\nitem-a,,https://h/a.mp3\n,sub/b.wav,https://h/b.wav\n,{tmp_path / 'in' / 'c.wav'},https://h/c\n",
        encoding="utf-8",
    )
    urls = UrlMap.from_options(str(csv), "https://fallback", tmp_path / "in")
    assert urls.url_for("item-a", "whatever.mp3") == "https://h/a.mp3"
    assert urls.url_for("x", "./sub/b.wav") == "https://h/b.wav"
    assert urls.url_for("y", "c.wav") == "https://h/c"
    assert urls.url_for("z", "d.wav") == "https://fallback/d.wav"


@pytest.mark.parametrize(
    ("text", "match"),
    [("name,link\na,https://x\n", "header"), ("name,url\na,not-a-url\n", "absolute URL"),
     ("name,url\na,https://x\na,https://y\n", "another URL")],
)  # fmt: skip
def test_bad_url_csv(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "u.csv").write_text(text)
    with pytest.raises(ConfigError, match=match):
        UrlMap.from_options(str(tmp_path / "u.csv"), None, tmp_path)


# local checks


CLASSES = class_index([{"name": "transcription", "attribute_groups": [
    {"name": "Content", "group_type": "text"},
    {"name": "Review", "group_type": "radio", "attributes": [{"name": "ok"}, {"name": "needs_review"}]}]}])  # fmt: skip


def event(start: object = 0, end: object = 10, attrs: list | None = None, stamps: int = 2) -> dict:
    attrs = attrs if attrs is not None else [{"groupName": "Content", "name": "hi"}]
    timestamps = [{"timestamp": start, "attributes": attrs}, {"timestamp": end, "attributes": attrs}][:stamps]
    meta = {"type": "event", "className": "transcription", "start": start, "end": end}
    return {"meta": meta, "parameters": [{"start": start, "end": end, "timestamps": timestamps}]}


def doc(*instances: dict, name: str = "a.wav", duration: object = 10) -> dict:
    return {"metadata": {"name": name, "duration": duration}, "instances": list(instances), "tags": []}


def test_valid_annotation_has_no_problems() -> None:
    review = [{"groupName": "Content", "name": "hi"}, {"groupName": "Review", "name": "ok"}]
    assert annotation_problems(doc(event(), event(10, 20, review)), "a.wav", CLASSES) == []


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (doc(name="b.wav"), "not the item name"),
        (doc(duration=1.5), "duration"),
        (doc(event(0.0, 1.0)), "integer microseconds"),
        (doc(event(stamps=1)), "two timestamps"),
        (doc(event(attrs=[{"groupName": "Content", "name": ""}])), "non-empty"),
        (doc(event(attrs=[{"groupName": "Other", "name": "x"}])), "not in the class"),
        (doc(event(attrs=[{"groupName": "Review", "name": "maybe"}])), "not a value"),
        (doc(event(5, 1)), "start <= end"),
        ({"instances": []}, "metadata"),
    ],
)
def test_annotation_problems(annotation: dict, expected: str) -> None:
    assert any(expected in p for p in annotation_problems(annotation, "a.wav", CLASSES))


def test_essentials_ignore_stamps_added_by_sdk_and_platform() -> None:
    sent = doc(event(), event(10, 20))
    held = json.loads(json.dumps(sent))
    held["metadata"].update(lastAction={"email": "x"}, id=5, status="InProgress")
    for instance in held["instances"]:
        instance["meta"]["creationType"] = "Preannotation"
    assert annotation_essentials(held) == annotation_essentials(sent)
    held["instances"][0]["parameters"][0]["timestamps"][0]["attributes"][0]["name"] = "edited"
    assert annotation_essentials(held) != annotation_essentials(sent)


# ledger and options


def test_ledger_round_trip_and_hash_ignores_formatting(tmp_path: Path) -> None:
    annotation = doc(event())
    assert annotation_sha256(annotation) == annotation_sha256(json.loads(json.dumps(annotation, indent=4)))
    ledger = Ledger.load(tmp_path)
    ledger.record("h/team/1/P", {"project": "P"}, "a.wav", annotation, tmp_path / "superannotate" / "a.wav.json")
    ledger.save()
    again = Ledger.load(tmp_path)
    entry = again.entry("h/team/1/P", "a.wav")
    assert entry.annotation == "superannotate/a.wav.json" and entry.instances == 1
    assert json.loads((tmp_path / entry.copy).read_text()) == annotation
    assert again.is_current("h/team/1/P", "a.wav", annotation_sha256(annotation))
    assert not again.is_current("h/team/2/P", "a.wav", annotation_sha256(annotation))
    (tmp_path / "uploads.json").write_text('{"format": 2, "targets": {}}')
    with pytest.raises(UploadError, match="newer"):  # a newer tool's ledger is never replaced
        Ledger.load(tmp_path)


@pytest.mark.parametrize(
    ("change", "match"),
    [("project=a/b", "must not contain"), ("status=Done", "status must be one of"),
     ("url_prefix=bucket/audio", "absolute URL"), ("max_attempts=0", "max_attempts"), ("batch_size=501", "batch_size")],
)  # fmt: skip
def test_options_are_validated(change: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_config(None, [f"superannotate.{change}"])


def test_options_from_yaml_values() -> None:
    options = load_config(None, ["superannotate.dry_run=null", "superannotate.project=Pods"]).superannotate
    assert options == SuperAnnotateOptions(project="Pods")


# the SDK import


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="pydantic accepts typing.TypedDict from Python 3.12")
def test_typed_dict_rebuild_satisfies_pydantic() -> None:
    from pydantic import PydanticUserError, TypeAdapter, ValidationError

    from preannotate.superannotate.sdk import _as_typing_extensions

    class Attachment(typing.TypedDict, total=False):  # as superannotate 4.6.2 declares it
        url: Required[str]
        name: NotRequired[str]

    with pytest.raises(PydanticUserError, match="typing_extensions.TypedDict"):
        TypeAdapter(Attachment)
    adapter = TypeAdapter(_as_typing_extensions(Attachment))
    assert adapter.validate_python({"url": "u"}) == {"url": "u"}
    with pytest.raises(ValidationError):
        adapter.validate_python({"name": "no url"})


def test_sdk_import_fix_and_host_redirection_in_a_fresh_interpreter(sa_server: SuperAnnotateServer) -> None:
    """What a notebook kernel does: SA_TOKEN, SA_URL and PREANNOTATE_SA_HOSTS from the environment."""
    code = (
        "import sys, typing\n"
        "from preannotate.superannotate.sdk import load_sdk\n"
        "from preannotate.options import SuperAnnotateOptions\n"
        "from preannotate.superannotate import preflight\n"
        "sa = load_sdk()\n"
        "interface = sys.modules[sa.SAClient.__module__]\n"
        "bad = [n for n, v in vars(interface).items() if isinstance(v, type) and typing.is_typeddict(v)\n"
        "       and type(v).__module__ == 'typing' and sys.version_info < (3, 12)]\n"
        "assert not bad, bad\n"
        "session = preflight(SuperAnnotateOptions(project='Notebook'))\n"
        "session.ensure_project('Notebook', 'from a subprocess')\n"
        "session.attach('Notebook', [{'name': 'x.wav', 'url': 'https://h/x.wav'}])\n"
        "print('OK', repr(session))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "OK UploadSession(host='127.0.0.1:" in done.stdout and sa_server.token not in done.stdout + done.stderr
    assert list(sa_server.items("Notebook")) == ["x.wav"]


def test_session_repr_hides_token(sa_server: SuperAnnotateServer) -> None:
    from preannotate.superannotate.client import connect

    session = connect(find_credentials(), RetryPolicy(1, 0))
    assert isinstance(session, UploadSession) and sa_server.token not in repr(session)
    assert session.target("P") == f"{sa_server.url.split('//')[1]}/team/4242/P"


# human edits


def test_what_counts_as_human_work() -> None:
    from preannotate.superannotate.guard import _edit_reason

    draft, other = doc(event()), doc(event(0, 5))
    held = json.loads(json.dumps(draft))
    held["instances"][0]["meta"]["creationType"] = "Preannotation"  # the SDK's stamp is not an edit
    assert _edit_reason(None, None, draft) is None and _edit_reason(doc(), None, draft) is None
    assert _edit_reason(held, draft, other) is None and _edit_reason(held, None, draft) is None
    assert "did not upload" in _edit_reason(held, None, other)
    assert "changed since" in _edit_reason(held, other, other)
    assert "emptied" in _edit_reason(doc(), draft, other)
    # Empty and worked on, with no upload of this folder to compare: maybe someone's verdict of no speech.
    assert _edit_reason(doc(), None, draft, "InProgress") == "human-edited: status InProgress with an empty annotation"
    assert _edit_reason(doc(), None, doc(), "InProgress") is None  # uploading an empty draft over it changes nothing
    tagged = {**held, "tags": ["noisy"]}
    assert "changed since" in _edit_reason(tagged, draft, other)  # a tag alone is an edit too
