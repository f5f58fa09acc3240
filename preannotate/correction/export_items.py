"""Which recordings an export's clips belong to: one name stem per item, and what an earlier export held.

Clips are named `clips/<stem>-<n>.<ext>`, the stem being the item's name with the characters a file name
should not hold replaced; two items that differ only in those (`a b.wav`, `a_b.wav`) get `a_b.wav` and
`a_b.wav~1`, each for all its clips, so that grouping clips by recording (a train/test split) never
mixes two recordings. From the clips an earlier export left in the destination, an export tells whether
that dataset is this run's (`check_same_run`) and whether it would drop items it holds because their
media cannot be read now (`check_nothing_dropped`): in both cases nothing is replaced.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CorrectionError, DestinationError, listed
from ..storage import read_json
from .destination import MARKER, SHOWN

# clips/<stem>[~<n>]-<segment>.<ext>: the stem is the shortest prefix that leaves such a tail.
_CLIP = re.compile(r"clips/(?P<stem>.+?)(?:~\d+)?-\d+\.[^./]+")


def clip_stem(item: str) -> str:
    """The item's name as a file name's stem: runs of other characters than letters, digits, `.`, `-` as `_`."""
    return re.sub(r"[^\w.-]+", "_", item).strip("._") or "item"


@dataclass
class Stems:
    """The stem each item's clips are named with, chosen at its first clip and kept for all its clips."""

    chosen: dict[str, str] = field(default_factory=dict)

    def of(self, item: str) -> str:
        """The item's stem: `clip_stem(item)`, or with `~1`, `~2`... when another item has it."""
        if item not in self.chosen:
            base, taken = clip_stem(item), set(self.chosen.values())
            stem, n = base, 1
            while stem in taken:
                stem, n = f"{base}~{n}", n + 1
            self.chosen[item] = stem
        return self.chosen[item]


def earlier_stems(dest: Path) -> set[str]:
    """The stems (without `~n`) of the clips an earlier export left in `dest`; empty when there are none.

    Its marker lists its files; an export made before that is read from its clips/ folder.
    """
    marker = read_json(dest / MARKER)
    files = marker.get("files") if isinstance(marker, dict) else None
    if isinstance(files, dict):
        names: Iterable[str] = files
    else:
        clips = dest / "clips"
        names = [f"clips/{p.name}" for p in clips.iterdir()] if clips.is_dir() else []
    return {match["stem"] for name in names if (match := _CLIP.fullmatch(name))}


def check_same_run(dest: Path, items: Collection[str], out: Path) -> None:
    """Raises DestinationError when `dest` holds clips of recordings that are none of this run's `items`.

    Another run's dataset exported into the same folder would be replaced by this one's, without a word;
    an item that has left this run would lose its clips likewise.
    """
    foreign = sorted(earlier_stems(dest) - {clip_stem(i) for i in items})
    if foreign:
        raise DestinationError(
            f"refusing to replace {dest}: it holds clips of recordings that are not items of the run in {out} "
            f"({listed(foreign, SHOWN)}): another run's export, or items this run no longer has; nothing was "
            "deleted. Export to another folder with --dest (dataset.dir), or delete the folder yourself"
        )


def check_nothing_dropped(dest: Path, failed: dict[str, str]) -> None:
    """Raises CorrectionError when items whose media could not be read now have clips in the earlier export.

    Their clips there may be the only ones left (a recording moved, deleted or changed since): replacing the
    dataset would drop them.

    Args:
        dest: The destination, holding the earlier export (or nothing).
        failed: Item -> why its media could not be read.
    """
    held = earlier_stems(dest)
    dropped = [f"{item}: {why}" for item, why in failed.items() if clip_stem(item) in held]
    if dropped:
        raise CorrectionError(
            f"not replacing {dest}: the earlier export there holds clips of {len(dropped)} item(s) whose media "
            f"cannot be read now, which this export would drop ({listed(dropped, SHOWN)}); nothing was written "
            "and it is as it was. Bring the recordings back (or point --input at them), export to another "
            "folder with --dest (dataset.dir), or delete the folder yourself to drop them"
        )
