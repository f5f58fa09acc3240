"""The command line on a folder of bad input, and resuming after a kill."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
from support.media import SAMPLES, read_sample, write_audio, write_video_without_audio

CLI = [sys.executable, "-m", "preannotate"]
# Greedy decoding where decoding is not what a test checks (beam search, the default, is slower).
GREEDY = ["--set", "transcribe.beam_size=null", "--set", "transcribe.best_of=null"]


def run_cli(*args, drop_root=False, **kwargs):
    prefix = []
    if drop_root and os.geteuid() == 0:
        # Root reads any file regardless of its mode: drop the two capabilities that allow it.
        prefix = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search"]
    return subprocess.run([*prefix, *CLI, *args], capture_output=True, text=True, timeout=600, **kwargs)


def make_bad_folder(folder):
    speech = read_sample("en/quick_brown_fox")
    folder.mkdir()
    write_audio(folder / "good.wav", speech)
    (folder / "zero.wav").write_bytes(b"")
    full = write_audio(folder / "full.flac", speech).read_bytes()
    (folder / "truncated.flac").write_bytes(full[: len(full) // 2])
    (folder / "full.flac").unlink()
    (folder / "corrupt.ogg").write_bytes(b"OggS" + os.urandom(3000))
    (folder / "notes.mp3").write_text("meeting notes, not audio\n" * 50)
    write_video_without_audio(folder / "screen.mp4")
    write_audio(folder / "silence.wav", np.zeros(16000 * 3, dtype=np.float32))
    write_audio(folder / "blip.wav", speech[:800])  # 0.05 s
    t44 = np.arange(int(len(speech) * 44100 / 16000)) / 44100
    up = np.interp(t44, np.arange(len(speech)) / 16000, speech).astype(np.float32)
    write_audio(folder / "stereo44k.wav", np.stack([up, up * 0.8], 1), rate=44100, channels=2)
    locked = write_audio(folder / "locked.wav", speech)
    locked.chmod(0)
    (folder / "ñandú").mkdir()
    write_audio(folder / "ñandú" / "canción.mp3", speech)
    os.mkfifo(folder / "pipe.wav")  # opening it would block the run forever


def test_bad_input_folder(tmp_path, tiny_model):
    make_bad_folder(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    proc = run_cli("run", "-i", str(tmp_path / "in"), "-o", str(out), "--set", "model.name=bundled:tiny.en",
                   "--no-progress", *GREEDY, drop_root=True)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    files = {f["source"]: f for f in json.loads((out / "run.json").read_text())["files"]}
    expected_errors = {
        "zero.wav": "empty file",
        "corrupt.ogg": "corrupt",
        "notes.mp3": "not a media file",
        "screen.mp4": "no audio stream",
        "locked.wav": "permission denied",
        "pipe.wav": "not a regular file (a named pipe)",
    }
    for source, message in expected_errors.items():
        assert files[source]["status"] == "failed", source
        assert message in files[source]["error"] and source in files[source]["error"], files[source]
        assert source in proc.stdout  # the summary table lists it
    for source in ("good.wav", "stereo44k.wav", "ñandú/canción.mp3", "truncated.flac", "silence.wav", "blip.wav"):
        assert files[source]["status"] == "ok", files[source]
    transcripts = out / "transcripts"
    text = {s: json.loads((transcripts / f"{files[s]['item']}.json").read_text())["text"].lower() for s in files
            if files[s]["status"] == "ok"}  # fmt: skip
    for source in ("good.wav", "stereo44k.wav", "ñandú/canción.mp3"):
        assert "quick brown fox" in text[source]
    assert text["silence.wav"] == "" and text["blip.wav"] == ""  # nothing invented
    assert any("truncated" in w for w in files["truncated.flac"]["warnings"])
    assert "truncated.flac: truncated: decoded" in proc.stderr  # said, not only recorded
    # Failed files leave no output, and nothing is half-written.
    assert sorted(p.name for p in transcripts.iterdir()) == sorted(f"{files[s]['item']}.json" for s in text)
    assert not list(out.rglob("*.tmp"))


def test_missing_input_is_a_clear_error(tmp_path):
    proc = run_cli("run", "-i", str(tmp_path / "nothing-here"), "-o", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "nothing-here" in proc.stderr and "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no media here")
    proc = run_cli("run", "-i", str(tmp_path / "empty"), "-o", str(tmp_path / "out"))
    assert proc.returncode == 2 and "holds no media" in proc.stderr


def test_an_output_folder_that_cannot_be_made_is_a_clear_error(tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(SAMPLES / "en" / "hello_world.wav", inp / "a.wav")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "locked" / ".preannotate.lock").mkdir(parents=True)
    cases = {
        str(inp / "a.wav"): "a file stands where a folder must be",
        str(inp / "a.wav" / "out"): "a file stands where a folder must be",
        str(tmp_path / ("x" * 300)): "File name too long",
        str(tmp_path / "loop"): "Symlink loop",
        str(tmp_path / "locked"): "Is a directory",
    }
    for out, message in cases.items():
        proc = run_cli("run", "-i", str(inp), "-o", out, "--set", "model.name=bundled:tiny.en")
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert f"as the output folder: {message}" in proc.stderr, proc.stderr


def test_an_output_folder_that_cannot_be_written_stops_the_run_with_one_message(tmp_path, tiny_model):
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    args = ["run", "-i", str(inp), "-o", str(out), "--set", "model.name=bundled:tiny.en", "--no-progress", *GREEDY]
    shutil.copy(SAMPLES / "en" / "counting.wav", inp)
    assert run_cli(*args).returncode == 0  # the folder is a run's
    shutil.copy(SAMPLES / "en" / "hello_world.wav", inp)  # a new file, whose transcript cannot be written
    shutil.rmtree(out / "transcripts")
    (out / "transcripts").write_text("a file where the transcripts' folder must be")
    proc = run_cli(*args)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "a file stands where a folder must be" in errors[0], proc.stderr
    assert f"cannot write {out / 'transcripts'}" in errors[0]


def test_unknown_option_is_a_clear_error(tmp_path):
    proc = run_cli("run", "--set", "transcribe.beam_sise=5")
    assert proc.returncode == 2 and "did you mean 'transcribe.beam_size'" in proc.stderr


def test_resume_after_kill(tmp_path, tiny_model):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(6):
        shutil.copy(SAMPLES / "en" / "quick_brown_fox.wav", folder / f"take{i}.wav")
    out = tmp_path / "out"
    args = ["run", "-i", str(folder), "-o", str(out), "--set", "model.name=bundled:tiny.en", "--no-progress", *GREEDY]
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    transcripts = out / "transcripts"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(transcripts.glob("*.json"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sorted(p.name for p in transcripts.glob("*.json"))
    assert 2 <= len(done) < 6, done
    for path in transcripts.glob("*.json"):
        json.loads(path.read_text())  # every file there is whole
    stamps = {p.name: p.stat().st_mtime_ns for p in transcripts.glob("*.json")}

    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    files = json.loads((out / "run.json").read_text())["files"]
    statuses = {f"{f['item']}.json": f["status"] for f in files}
    assert all(statuses[name] == "skipped" for name in done)
    assert sum(s == "ok" for s in statuses.values()) == 6 - len(done)
    assert all(stamps[name] == (transcripts / name).stat().st_mtime_ns for name in done)
    assert not list(out.rglob("*.tmp"))


def test_ctrl_c_stops_parallel_workers_promptly(tmp_path, loads_model, pauses):
    # Three 11-minute files, two transcribed at once: finishing them would take minutes.
    folder = tmp_path / "in"
    folder.mkdir()
    long = np.tile(pauses, 5)
    for i in range(3):
        write_audio(folder / f"lecture{i}.flac", long)
    out, log = tmp_path / "out", tmp_path / "stderr.log"
    args = ["run", "-i", str(folder), "-o", str(out), "--no-progress", "--set", "model.name=bundled:tiny.en",
            "--set", "model.engine=faster-whisper", "--set", "model.faster_whisper.num_workers=2", *GREEDY]  # fmt: skip
    with open(log, "w") as stderr:
        # A shell that starts tests in the background makes them ignore SIGINT, and Python then keeps
        # ignoring it: the CLI gets the default disposition, as in a terminal.
        default_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
        proc = subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL, stderr=stderr, preexec_fn=default_sigint)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "transcribing 3 file(s)" not in log.read_text():
            time.sleep(0.1)
        time.sleep(3)  # both workers are inside their first file
        proc.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        try:
            code = proc.wait(timeout=120)
        finally:
            proc.kill()  # no stray process when the test fails
    waited = time.monotonic() - interrupted
    assert code == 130, log.read_text()
    assert waited < 30, f"{waited:.0f} s after Ctrl-C"  # each worker stops at its next 30-s window
    run = json.loads((out / "run.json").read_text())
    assert run["summary"]["interrupted"] and {f["status"] for f in run["files"]} == {"failed"}
    assert all("interrupted" in f["error"] for f in run["files"])
    assert not list(out.rglob("*.tmp")) and not list((out / "transcripts").glob("*.json"))
