"""The run's progress bar over audio seconds: tenths of a second, never past its total."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st
from tqdm.auto import tqdm

from preannotate.run.transcribe_jobs import advance, audio_length


def test_progress_shows_tenths_where_adding_floats_would_not() -> None:
    durations = [3.0, 1.1, 2.9, 3.3, 3.5, 1.4, 2.8, 2.8]  # samples/'s files: 15.200000000000001 after five
    out = io.StringIO()
    with tqdm(total=round(sum(durations), 1), unit="s", file=out, mininterval=0, miniters=1) as bar:
        for seconds in durations:
            advance(bar, seconds)
            assert bar.n == round(bar.n, 1)
    assert "15.2/20.8" in out.getvalue() and "000000" not in out.getvalue()
    assert bar.n == bar.total == 20.8


@given(st.lists(st.floats(min_value=0, max_value=3600, allow_nan=False), max_size=40), st.floats(0, 10))
def test_progress_never_passes_its_total(durations: list[float], short: float) -> None:
    total = round(max(sum(durations) - short, 0.0), 1)  # probed durations can undercount the decoded ones
    with tqdm(total=total, file=io.StringIO()) as bar:
        for seconds in durations:
            before = bar.n
            advance(bar, seconds)
            assert before <= bar.n <= total and bar.n == round(bar.n, 1)


def test_audio_lengths_read_in_the_unit_that_fits() -> None:
    assert [audio_length(s) for s in (0.0, 8.43, 59.9, 60.0, 192.0, 3599.0, 3600.0, 9000.0)] == [
        "0.0 s", "8.4 s", "59.9 s", "1.0 min", "3.2 min", "60.0 min", "1.0 h", "2.5 h"
    ]  # fmt: skip
