"""`preannotate run` as a careless user runs it: on output folders they damaged, locked or filled with files of
their own, and stopped with Ctrl-C pressed again and again.

Most tests copy one finished run (bundled tiny.en, greedy, dry run) and run the command line on it again.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.lock_processes import dead_pid
from support.media import SAMPLES

from preannotate.report import FileResult, summary_table
from preannotate.storage import STALE_TEMP_S, host_tag

CLI = [sys.executable, "-m", "preannotate"]
OFFLINE = ["--set", "model.name=bundled:tiny.en", "--set", "transcribe.beam_size=null", "--set",
           "transcribe.best_of=null", "--set", "superannotate.dry_run=true", "--no-progress"]  # fmt: skip
CLIPS = ("hello_world", "counting")


def run_cli(inp: Path, out: Path, *more: str, drop_root: bool = False) -> subprocess.CompletedProcess:
    """`preannotate run -i inp -o out ...more`, offline; without root's right to read and write any file if asked."""
    prefix = []
    if drop_root and os.geteuid() == 0:
        prefix = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search"]
    args = [*prefix, *CLI, "run", "-i", str(inp), "-o", str(out), *OFFLINE, *more]
    return subprocess.run(args, capture_output=True, text=True, timeout=600)


def two_clips(folder: Path) -> Path:
    """`folder`, made, with the two sample clips."""
    folder.mkdir()
    for name in CLIPS:
        shutil.copy(SAMPLES / "en" / f"{name}.wav", folder / f"{name}.wav")
    return folder


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, loads_model: None) -> tuple[Path, Path]:
    """(input folder, output folder) of a finished run of two clips."""
    root = tmp_path_factory.mktemp("finished")
    inp, out = two_clips(root / "in"), root / "out"
    proc = run_cli(inp, out)
    assert proc.returncode == 0, proc.stderr
    return inp, out


@pytest.fixture
def run_copy(finished: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the finished run's output folder (its input folder is shared, never changed)."""
    inp, out = finished
    copy = tmp_path / "out"
    shutil.copytree(out, copy, symlinks=True)
    return inp, copy


def errors(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("preannotate: error:")]


def edit_journal(out: Path, change, keep_last: bool = True) -> None:
    """Applies `change` to every `file` record of the journal; without `keep_last`, as if the run was killed."""
    lines = (out / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    for record in records:
        if record["t"] == "file":
            change(record["file"])
    if not keep_last:
        while records[-1]["t"] in ("written", "exported"):
            records.pop()
    (out / "journal.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


@pytest.mark.parametrize("state", ["finished", "killed"])
def test_a_journal_line_of_the_wrong_types_is_not_used_and_the_run_goes_on(run_copy, state: str) -> None:
    inp, out = run_copy

    def damage(file: dict) -> None:
        file["duration"], file["language"] = "1.1 s", 5  # edited by hand

    edit_journal(out, damage, keep_last=state == "finished")
    proc = run_cli(inp, out)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "journal.jsonl: a record does not fit (a file's duration is str); the journal is not used" in proc.stderr
    files = json.loads((out / "run.json").read_text(encoding="utf-8"))["files"]
    assert [(f["status"], f["language"], type(f["duration"])) for f in files] == [("skipped", "en", float)] * 2


def test_an_output_folder_without_permission_is_one_message_naming_it(run_copy) -> None:
    inp, out = run_copy
    transcripts = out / "transcripts"
    transcripts.chmod(0)
    try:
        proc = run_cli(inp, out, drop_root=True)
    finally:
        transcripts.chmod(0o755)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert len(errors(proc)) == 1, proc.stderr
    assert f"cannot write {transcripts / 'counting.wav.json'}: Permission denied" in errors(proc)[0]


def test_a_folder_that_cannot_be_written_is_named_without_a_temporary_file(run_copy) -> None:
    inp, out = run_copy
    out.chmod(0o555)
    try:
        proc = run_cli(inp, out, drop_root=True)
    finally:
        out.chmod(0o755)
    assert proc.returncode == 1 and len(errors(proc)) == 1, proc.stderr
    assert errors(proc)[0].startswith(f"preannotate: error: cannot write {out / 'journal.jsonl'}: Permission denied;")
    assert ".tmp" not in errors(proc)[0]  # the user never asked for a temporary file


def test_hidden_tmp_files_of_the_user_are_kept_old_temps_of_the_tool_go(run_copy) -> None:
    inp, out = run_copy
    mine = [out / ".notes.tmp", out / ".draft.v2.tmp", out / "transcripts" / ".todo.txt.tmp"]
    ours = [out / "subtitles" / ".counting.wav.srt.k4k4k4k4.tmp", out / f".run.json.{host_tag()}-1-0a1b2c3d.tmp"]
    hours_ago = time.time() - STALE_TEMP_S - 3600
    for path in mine + ours:
        path.write_text("the user's words" if path in mine else "half a file", encoding="utf-8")
        os.utime(path, (hours_ago, hours_ago))
    proc = run_cli(inp, out)
    assert proc.returncode == 0, proc.stderr
    assert all(path.read_text(encoding="utf-8") == "the user's words" for path in mine)
    assert not any(path.exists() for path in ours)


def test_temps_of_a_killed_run_go_from_the_checks_and_speakers_folders(run_copy) -> None:
    inp, out = run_copy
    left = [out / folder / f".counting.wav.json.{host_tag()}-{dead_pid()}-0a1b2c3d.tmp"
            for folder in ("checks", "speakers")]  # fmt: skip
    for path in left:
        path.parent.mkdir()
        path.write_text("{", encoding="utf-8")
    proc = run_cli(inp, out)
    assert proc.returncode == 0, proc.stderr
    assert not any(path.exists() for path in left)


def test_ctrl_c_pressed_again_and_again_ends_with_130_and_no_traceback(tmp_path: Path, model_cache: Path,
                                                                       loads_model: None) -> None:  # fmt: skip
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    for i in range(8):
        shutil.copy(SAMPLES / "en" / "quick_brown_fox.wav", inp / f"take{i}.wav")
    args = [*CLI, "run", "-i", str(inp), "-o", str(out), *OFFLINE]
    # SIGINT as a terminal's Ctrl-C delivers it (a shell starting tests in the background would ignore it).
    default_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while proc.poll() is None and not any((out / "transcripts").glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.02)
        while proc.poll() is None and time.monotonic() < deadline:  # an impatient user: Ctrl-C until it ends
            proc.send_signal(signal.SIGINT)
            time.sleep(0.02)
        stderr = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert "preannotate: interrupted; finished files are kept" in stderr


@pytest.fixture(scope="module")
def diarized(finished: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(input folder, output folder) of a finished run of one clip with `speakers.mode: diarize`."""
    root = tmp_path_factory.mktemp("diarized")
    inp, out = root / "in", root / "out"
    inp.mkdir()
    shutil.copy(finished[0] / "hello_world.wav", inp / "hello_world.wav")
    proc = run_cli(inp, out, "--set", "speakers.mode=diarize")
    assert proc.returncode == 0, proc.stderr
    return inp, out


# A turn edited by hand stopped the run with a traceback; turns that are not a list failed the file at every run.
@pytest.mark.parametrize("turns", [[{"start": "0.5 s", "end": 1.0, "speaker": "A"}], "none"])
def test_damaged_speaker_turns_are_diarized_again(diarized: tuple[Path, Path], tmp_path: Path, turns) -> None:
    inp, out = diarized[0], tmp_path / "out"
    shutil.copytree(diarized[1], out)
    stored = out / "speakers" / "hello_world.wav.json"
    data = json.loads(stored.read_text(encoding="utf-8"))
    good, data["turns"] = data["turns"], turns
    stored.write_text(json.dumps(data), encoding="utf-8")
    proc = run_cli(inp, out, "--set", "speakers.mode=diarize", "--set", "chunking.max_duration=5")  # re-chunks
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert f"{stored}: stored speaker turns are damaged: diarized again" in proc.stderr
    assert json.loads(stored.read_text(encoding="utf-8"))["turns"] == good


@pytest.mark.parametrize("theirs", ["chunks.csv", "transcripts/notes.json", "run.json"])
def test_an_output_folder_of_the_users_own_files_is_refused_and_left_as_it_was(
    finished: tuple[Path, Path], tmp_path: Path, theirs: str
) -> None:
    inp, _ = finished
    mine = tmp_path / "project"
    (mine / theirs).parent.mkdir(parents=True, exist_ok=True)
    (mine / theirs).write_text("the user's own file, not a run's\n", encoding="utf-8")
    proc = run_cli(inp, mine)
    assert proc.returncode == 2 and len(errors(proc)) == 1, proc.stderr
    assert f"output folder {mine} holds {theirs.split('/')[0]}, and no run.json or journal.jsonl" in proc.stderr
    assert (mine / theirs).read_text(encoding="utf-8") == "the user's own file, not a run's\n"
    assert [p.name for p in mine.iterdir()] == [theirs.split("/")[0]]  # not even a lock file added


def test_a_run_writes_into_its_own_folder_and_one_of_other_files(finished: tuple[Path, Path], run_copy, tmp_path):
    inp, _ = finished
    _, out = run_copy
    (out / "run.json").unlink()  # the journal still shows the folder is a run's: resumed, run.json rebuilt
    assert run_cli(inp, out).returncode == 0 and (out / "run.json").is_file()
    shared = tmp_path / "shared"  # the input folder as the output folder: its audio is not what a run writes
    shutil.copytree(inp, shared)
    assert run_cli(shared, shared).returncode == 0 and (shared / "chunks.csv").is_file()
    assert run_cli(shared, shared).returncode == 0  # and the second time it is the run's own


def test_a_run_folder_whose_records_are_both_damaged_is_known_by_its_transcripts(finished, run_copy, tmp_path) -> None:
    inp, _ = finished
    _, out = run_copy
    for name in ("run.json", "journal.jsonl"):  # a full disk, a truncated copy: neither shows the run any more
        whole = (out / name).read_bytes()
        (out / name).write_bytes(whole[: len(whole) // 3])
    proc = run_cli(inp, out)
    assert proc.returncode == 0 and "its transcripts show it is a run's folder" in proc.stderr, proc.stderr
    assert {f["status"] for f in json.loads((out / "run.json").read_text())["files"]} == {"skipped"}  # resumed
    mine = tmp_path / "project"  # a damaged run.json of the user's own, beside their chunks.csv: still theirs
    mine.mkdir()
    (mine / "run.json").write_text("{not json", encoding="utf-8")
    (mine / "chunks.csv").write_text("the user's own\n", encoding="utf-8")
    assert run_cli(inp, mine).returncode == 2 and (mine / "chunks.csv").read_text() == "the user's own\n"


def test_the_summary_table_shows_control_characters_of_names_as_escapes_one_row_per_file() -> None:
    files = [
        FileResult("take__2.wav", "take\n2.wav", "ok"),
        FileResult("x.wav", "\x1b[31mred\x1b[0m.wav", "failed", "x.wav: cannot\tdecode \x1b[2J"),
        FileResult("ü.wav", "dossier/été ü.wav", "ok"),
    ]
    lines = summary_table(files).splitlines()
    assert len(lines) == 2 + len(files) + 1  # header, rule, a row per file, the routes
    assert lines[2].startswith("take\\n2.wav ") and "\x1b" not in "".join(lines)
    assert "\\x1b[31mred\\x1b[0m.wav" in lines[3] and "failed: x.wav: cannot decode \\x1b[2J" in lines[3]
    assert lines[4].startswith("dossier/été ü.wav")  # letters of any script stay as they are


def test_an_output_folder_reused_for_another_input_says_which_files_leave_its_run_json(
    run_copy, tmp_path: Path
) -> None:
    """Two batches of one run name, a copied command: the first dataset's files left run.json and the exports
    without a word (their transcripts stay). The same input spelled otherwise is no other input."""
    inp, out = run_copy
    again = run_cli(Path(f"{inp}/./"), out)
    assert again.returncode == 0 and "another input" not in again.stderr, again.stderr
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(inp / "counting.wav", other / "counting.wav")
    moved = run_cli(other, out)
    assert moved.returncode == 0, moved.stderr
    assert f"held a run of another input ({inp}): 1 of its file(s) are not in {other}" in moved.stderr
    assert moved.stderr.rstrip().endswith("hello_world.wav") or ": hello_world.wav" in moved.stderr
    assert (out / "transcripts" / "hello_world.wav.json").is_file()
    assert "another input" not in run_cli(other, out).stderr  # said once: run.json is the new input's now


def test_a_recording_removed_from_the_input_is_named_as_it_leaves_run_json(run_copy, tmp_path: Path) -> None:
    """It left run.json and chunks.csv without a word, its subtitles and SuperAnnotate file still there."""
    inp, out = run_copy
    copy = tmp_path / "copy"
    shutil.copytree(inp, copy)
    assert "leave run.json" not in run_cli(copy, out).stderr  # the same files, elsewhere: nothing leaves
    (copy / "hello_world.wav").unlink()
    done = run_cli(copy, out)
    assert done.returncode == 0 and f"1 file(s) of its last run are no longer in {copy}" in done.stderr, done.stderr
    assert "their transcripts, subtitles and SuperAnnotate files stay in the folder): hello_world.wav" in done.stderr
    assert (out / "superannotate" / "hello_world.wav.json").is_file()
    assert "hello_world" not in (out / "chunks.csv").read_text()


def test_a_file_rewritten_while_it_is_transcribed_fails_and_is_transcribed_again_next_run(
    tmp_path: Path, model_cache: Path, loads_model: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state stored with a transcript is read when the run plans; the audio is decoded later. A copy over the
    file in between left a transcript of other bytes under the planned file's hash, kept as finished ever after."""
    from preannotate import cli
    from preannotate.run import transcribe_jobs

    inp, out = two_clips(tmp_path / "in"), tmp_path / "out"
    real = transcribe_jobs._transcribe_decoded

    def copied_over_meanwhile(work, audio):
        if not (tmp_path / "copied").exists():  # a copy of other audio lands on hello_world.wav, once
            (tmp_path / "copied").touch()
            shutil.copy(SAMPLES / "en" / "counting.wav", inp / "hello_world.wav")
        return real(work, audio)

    monkeypatch.setattr(transcribe_jobs, "_transcribe_decoded", copied_over_meanwhile)
    args = ["run", "-i", str(inp), "-o", str(out), *OFFLINE]
    assert cli.main(args) == 1
    files = {f["item"]: f for f in json.loads((out / "run.json").read_text(encoding="utf-8"))["files"]}
    assert files["counting.wav"]["status"] == "ok" and files["hello_world.wav"]["status"] == "failed"
    assert "hello_world.wav: changed while it was transcribed" in files["hello_world.wav"]["error"]
    assert not (out / "transcripts" / "hello_world.wav.json").exists()
    assert cli.main(args) == 0  # the file as it is now
    transcript = json.loads((out / "transcripts" / "hello_world.wav.json").read_text(encoding="utf-8"))
    assert (
        "hello" not in transcript["text"].lower()
        and transcript["meta"]["source"]["size"] == (inp / "hello_world.wav").stat().st_size
    )


class _SwallowedCtrlC:
    """What numba's compiler or a regex being freed met: Ctrl-C landing in a finalizer, which Python drops."""

    def __del__(self) -> None:
        raise KeyboardInterrupt


def test_a_ctrl_c_a_finalizer_swallowed_stops_the_run_before_the_next_file(
    tmp_path: Path, model_cache: Path, loads_model: None, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Python printed "Exception ignored in ... KeyboardInterrupt" and the run went on to its end, exit 0."""
    from preannotate import cli
    from preannotate.run import transcribe_jobs

    inp, out = two_clips(tmp_path / "in"), tmp_path / "out"
    real = transcribe_jobs._transcribe_decoded

    def ctrl_c_in_a_finalizer(work, audio):
        _SwallowedCtrlC()  # made and freed at once: its KeyboardInterrupt is unraisable
        return real(work, audio)

    monkeypatch.setattr(transcribe_jobs, "_transcribe_decoded", ctrl_c_in_a_finalizer)
    assert cli.main(["run", "-i", str(inp), "-o", str(out), *OFFLINE]) == cli.EXIT_INTERRUPTED
    assert (out / "transcripts" / "counting.wav.json").is_file()  # the file it was transcribing is kept
    assert not (out / "transcripts" / "hello_world.wav.json").exists()
    assert "Exception ignored" not in capsys.readouterr().err
    monkeypatch.setattr(transcribe_jobs, "_transcribe_decoded", real)
    assert cli.main(["run", "-i", str(inp), "-o", str(out), *OFFLINE]) == 0  # a new command: the flag is cleared


def test_upload_after_a_run_stopped_before_its_exports_is_refused(
    tmp_path: Path, model_cache: Path, loads_model: None, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """A recording replaced, the run stopped after transcribing it and before its exports: `upload` planned the
    old recording's draft, still in superannotate/, as the new transcript's (and would record it so)."""
    from preannotate import cli
    from preannotate.run import stages

    inp, out = two_clips(tmp_path / "in"), tmp_path / "out"
    assert cli.main(["run", "-i", str(inp), "-o", str(out), *OFFLINE]) == 0
    shutil.copy(SAMPLES / "en" / "quick_brown_fox.wav", inp / "hello_world.wav")  # another recording, same name
    draft = (out / "superannotate" / "hello_world.wav.json").read_bytes()

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(stages, "chunk_files", stopped)  # Ctrl-C once the transcripts are stored
        assert cli.main(["run", "-i", str(inp), "-o", str(out), *OFFLINE]) == cli.EXIT_INTERRUPTED
    assert "fox" in json.loads((out / "transcripts" / "hello_world.wav.json").read_text())["text"].lower()
    assert (out / "superannotate" / "hello_world.wav.json").read_bytes() == draft  # the old recording's draft
    capsys.readouterr()
    upload = ["upload", "-o", str(out), "--dry-run", "--set", "superannotate.url_prefix=https://example.com/a/"]
    assert cli.main(upload) == 2
    assert "its last run stopped before it wrote its exports" in capsys.readouterr().err
    assert cli.main(["run", "-i", str(inp), "-o", str(out), *OFFLINE]) == 0  # resumes: the exports written
    assert "fox" in (out / "superannotate" / "hello_world.wav.json").read_text().lower()
    assert cli.main(upload) == 0
