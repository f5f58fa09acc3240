import os

import pytest

from preannotate.discover import discover, item_name
from preannotate.errors import InputError
from preannotate.options import MEDIA_EXTENSIONS


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
