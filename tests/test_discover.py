import hashlib
import logging
import os
import socket
import unicodedata
from pathlib import Path

import pytest

from preannotate.discover import discover, find_media
from preannotate.errors import InputError
from preannotate.naming import (
    MAX_NAME_BYTES,
    MAX_NAME_CHARS,
    item_name,
    plain_item_problem,
    unique_item_names,
)
from preannotate.options import MEDIA_EXTENSIONS
from preannotate.run.plan import plan
from preannotate.run.resume import file_sha256


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_recursive_sorted_and_hidden_skipped(tmp_path):
    for rel in ["b/2.MP3", "a/1.wav", "a/.hidden.wav", ".cache/x.wav", "notes.txt", "c/d/e/3.mkv", "z.Opus"]:
        touch(tmp_path / rel)
    found = discover(tmp_path, MEDIA_EXTENSIONS)
    assert [f.source for f in found] == ["a/1.wav", "b/2.MP3", "c/d/e/3.mkv", "z.Opus"]
    assert [f.item for f in found] == ["a__1.wav", "b__2.MP3", "c__d__e__3.mkv", "z.Opus"]
    assert all(f.path.is_absolute() and f.path.exists() for f in found)


def test_all_required_extensions_are_media():
    for ext in [".wav", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".aac", ".webm", ".mp4", ".mov", ".mkv"]:
        assert ext in MEDIA_EXTENSIONS


def test_same_file_name_in_two_folders_gets_two_items(tmp_path):
    touch(tmp_path / "day1/take.wav")
    touch(tmp_path / "day2/take.wav")
    touch(tmp_path / "day1__take.wav")  # would collide with the plain join
    items = [f.item for f in discover(tmp_path, MEDIA_EXTENSIONS)]
    assert len(set(items)) == 3
    assert "day1__take.wav" in items and "day2__take.wav" in items


def test_item_names_are_stable_safe_and_unique():
    sources = ["a/b.wav", "a__b.wav", "a b/c?.wav", "a b/c#.wav", "ünï/çødé.mp3", "x/" + "long" * 80 + ".wav",
               "q:/r.wav", "q_/r.wav", "..odd.wav", "dir/.wav"]  # fmt: skip
    names = [item_name(s) for s in sources]
    assert names == [item_name(s) for s in sources]  # stable
    assert len(set(names)) == len(names)  # unique
    for name in names:
        assert "/" not in name and "\\" not in name and not name.startswith(".")
        assert not set(name) & set("<>:\"|?*#%&{}$!`'@+=[]")
        assert len(name.encode()) <= 200
    assert item_name("ünï/çødé.mp3") == "ünï__çødé.mp3"  # non-ASCII letters are kept


def test_symlink_loops_end(tmp_path):
    touch(tmp_path / "a/1.wav")
    os.symlink(tmp_path / "a", tmp_path / "a/loop")
    os.symlink(tmp_path, tmp_path / "a/up")
    found = discover(tmp_path, MEDIA_EXTENSIONS)
    assert [f.source for f in found] == ["a/1.wav"]


def test_missing_and_empty_input(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        discover(tmp_path / "nope", MEDIA_EXTENSIONS)
    touch(tmp_path / "readme.txt")
    with pytest.raises(InputError, match="holds no media"):
        discover(tmp_path, MEDIA_EXTENSIONS)
    with pytest.raises(InputError, match="not a folder"):
        discover(tmp_path / "readme.txt", MEDIA_EXTENSIONS)


def deep_tree(root, levels=22):
    """`levels` nested folders of 200 characters (longer than PATH_MAX in all) with b.wav at the bottom.

    Made through folder descriptors, since no path to the bottom can be named; returns the top folder's name.
    """
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for i in range(levels):
        name = chr(ord("a") + i) * 200
        os.mkdir(name, dir_fd=fd)
        below = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = below
    os.close(os.open("b.wav", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    os.close(fd)
    return "a" * 200


def warnings_logged(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_folder_that_cannot_be_listed_is_reported_and_the_walk_goes_on(tmp_path, caplog):
    touch(tmp_path / "a.wav")
    touch(tmp_path / "z/c.wav")
    top = deep_tree(tmp_path)
    with caplog.at_level(logging.WARNING):
        found = find_media(tmp_path, MEDIA_EXTENSIONS)
    assert [f.source for f in found.media] == ["a.wav", "z/c.wav"]  # b.wav is past PATH_MAX
    [unlisted] = found.unreadable
    assert unlisted.source.startswith(f"{top}/") and unlisted.path == tmp_path.resolve() / unlisted.source
    assert unlisted.error == f"{unlisted.path}: cannot list the folder (File name too long)"
    assert unlisted.item not in {f.item for f in found.media}
    assert warnings_logged(caplog) == [f"{unlisted.error}; left out of the run"]


def test_discover_warns_of_a_folder_it_cannot_list(tmp_path, caplog):
    touch(tmp_path / "a.wav")
    deep_tree(tmp_path)
    with caplog.at_level(logging.WARNING):
        assert [f.source for f in discover(tmp_path, MEDIA_EXTENSIONS)] == ["a.wav"]
    assert any("cannot list the folder (File name too long)" in w for w in warnings_logged(caplog))


def test_no_media_but_unlistable_folders_names_them(tmp_path):
    deep_tree(tmp_path)
    with pytest.raises(InputError, match=r"holds no media files .*; could not read: .*cannot list the folder"):
        discover(tmp_path, MEDIA_EXTENSIONS)


def test_media_names_that_are_not_regular_files_are_reported_not_opened(tmp_path, monkeypatch, caplog):
    touch(tmp_path / "a.wav")
    os.mkfifo(tmp_path / "b.wav")
    monkeypatch.chdir(tmp_path)  # a socket's path must be short
    with socket.socket(socket.AF_UNIX) as s:
        s.bind("c.wav")
        with caplog.at_level(logging.WARNING):
            found = find_media(tmp_path, MEDIA_EXTENSIONS)
    assert [f.source for f in found.media] == ["a.wav"]
    root = tmp_path.resolve()
    assert [u.error for u in found.unreadable] == [
        f"{root / 'b.wav'}: not a regular file (a named pipe)",
        f"{root / 'c.wav'}: not a regular file (a socket)",
    ]
    assert warnings_logged(caplog) == [f"{u.error}; left out of the run" for u in found.unreadable]


def test_links_to_files_are_kept_and_a_dangling_link_fails_as_before(tmp_path):
    touch(tmp_path / "data/a.wav")
    os.mkfifo(tmp_path / "data/pipe.wav")
    os.symlink(tmp_path / "data/a.wav", tmp_path / "data/good.wav")
    os.symlink(tmp_path / "data/pipe.wav", tmp_path / "data/to_pipe.wav")  # links are followed
    os.symlink(tmp_path / "nowhere.wav", tmp_path / "data/dangling.wav")
    found = find_media(tmp_path / "data", MEDIA_EXTENSIONS)
    assert [f.source for f in found.media] == ["a.wav", "dangling.wav", "good.wav"]
    assert [u.source for u in found.unreadable] == ["pipe.wav", "to_pipe.wav"]
    results = {r.source: r for r in plan(found.media, tmp_path / "out", "key", force=False).results}
    assert results["dangling.wav"].error == f"{found.media[1].path}: cannot read (No such file or directory)"
    assert results["good.wav"].error == "not processed (run interrupted)"  # a job, read like its target


NFC, NFD = "caf\u00e9.wav", "cafe\u0301.wav"
SA_SKIPPED = set("<>:\u201d'/\\?*&$!+")  # SuperAnnotate's import skips names with these (its FAQ)


def test_unicode_spellings_of_one_name_are_two_items(tmp_path):
    touch(tmp_path / NFC)
    touch(tmp_path / NFD)
    assert len(os.listdir(tmp_path)) == 2  # Linux keeps both spellings apart
    found = discover(tmp_path, MEDIA_EXTENSIONS)
    items = {f.source: f.item for f in found}
    assert items[NFC] == NFC  # the file already named as its item keeps the name
    assert items[NFD] != NFC and items[NFD].startswith("caf\u00e9-") and items[NFD].endswith(".wav")
    assert [(f.source, f.item) for f in discover(tmp_path, MEDIA_EXTENSIONS)] == [(f.source, f.item) for f in found]
    (tmp_path / NFC).unlink()
    assert discover(tmp_path, MEDIA_EXTENSIONS)[0].item == NFC  # alone, the other spelling gets the plain name


def test_names_differing_only_in_case_are_two_items(tmp_path):
    for name in ("Take.wav", "take.wav", "TAKE.wav"):
        touch(tmp_path / name)
    items = [f.item for f in discover(tmp_path, MEDIA_EXTENSIONS)]
    assert len({i.casefold() for i in items}) == 3 and "TAKE.wav" in items  # the smallest path keeps its name


def test_a_name_crafted_to_equal_a_hashed_name_does_not_take_its_file(tmp_path):
    lossy = "a b?.wav"
    crafted = item_name(lossy)  # what the lossy name hashes to
    touch(tmp_path / lossy)
    touch(tmp_path / crafted)
    found = {f.source: f.item for f in discover(tmp_path, MEDIA_EXTENSIONS)}
    assert found[crafted] == crafted and found[lossy] != crafted
    assert found == {f.source: f.item for f in discover(tmp_path, MEDIA_EXTENSIONS)}


def test_every_clash_is_settled_deterministically():
    lossy = ["\u00e9?.wav", "e\u0301?.wav"]  # NFC and NFD spellings, both hashed: neither maps exactly
    assert item_name(lossy[0]) == item_name(lossy[1])
    sources = sorted([*lossy, NFC, NFD, "Caf\u00e9.wav", "x?.wav", item_name("x?.wav")])
    names = unique_item_names(sources)
    assert len({unicodedata.normalize("NFC", n).casefold() for n in names}) == len(sources)
    assert names == unique_item_names(list(sources))
    assert unique_item_names(["a.wav", "b.wav"]) == ["a.wav", "b.wav"]


def test_item_names_keep_to_superannotate_limits():
    sources = ["x/" + "long" * 80 + ".wav", "\U0001f600" * 100 + ".wav", "é" * 130 + ".flac", "a" * 120 + ".wav",
               *(f"q{c}r.wav" for c in sorted(SA_SKIPPED - {"/"})), "she said \u201chi\u201d \u2018ok\u2019.wav",
               "a" * 200]  # fmt: skip
    names = [item_name(s) for s in sources]
    assert names == [item_name(s) for s in sources] and len(set(names)) == len(names)
    for name in names:
        assert len(name) <= MAX_NAME_CHARS and len(name.encode()) <= MAX_NAME_BYTES, name
        assert not set(name) & (SA_SKIPPED | set("\u201c\u2018\u2019")), name
    assert names[0].endswith(".wav") and names[2].endswith(".flac")
    assert item_name("a" * 116 + ".wav") == "a" * 116 + ".wav"  # 120 characters: kept as is


@pytest.mark.parametrize("name", ["", ".", "..", "../..", "a/b", "/abs", "a\\b", "nul\0", None, 5, ["a"]])
def test_stored_names_that_are_not_plain_are_problems(name):
    assert "is not a plain item name" in plain_item_problem(name)


def test_plain_stored_names_are_fine():
    assert plain_item_problem("caf\u00e9 \u201cx\u201d.wav") is None and plain_item_problem("a..b.wav") is None


def test_an_input_path_the_system_cannot_take_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read input folder .*File name too long"):
        discover(tmp_path / ("x" * 300), (".wav",))


def test_hashing_a_named_pipe_fails_at_once_instead_of_blocking(tmp_path: Path) -> None:
    # A pipe can take a media file's place after discovery: opening it plainly would wait for a writer.
    os.mkfifo(tmp_path / "late.wav")
    with pytest.raises(OSError, match="not a regular file"):
        file_sha256(tmp_path / "late.wav")
    (tmp_path / "a.wav").write_bytes(b"abc")
    assert file_sha256(tmp_path / "a.wav") == hashlib.sha256(b"abc").hexdigest()


def test_a_bucket_key_with_a_double_slash_never_takes_the_name_of_the_plain_key() -> None:
    # Keys are listed in any order and another may come later: each name must depend on its own key alone.
    doubled = unique_item_names(["dbl//x.wav"])
    assert doubled != ["dbl__x.wav"] and doubled[0].startswith("dbl__x") and doubled[0].endswith(".wav")
    assert unique_item_names(["dbl/x.wav", "dbl//x.wav"]) == ["dbl__x.wav", *doubled]
