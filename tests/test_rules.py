import subprocess
import sys

import whisper.tokenizer
from support.media import SAMPLES

from preannotate.asr.languages import language_code, whisper_languages


def test_language_tables_are_whispers_own():
    assert whisper_languages() == (whisper.tokenizer.LANGUAGES, whisper.tokenizer.TO_LANGUAGE_CODE)
    assert language_code("Spanish") == "es" and language_code("mandarin") == "zh" and language_code("fr") == "fr"


def test_the_faster_whisper_engine_runs_without_importing_torch(tmp_path, loads_model):
    # torch and openai-whisper take seconds to import: a faster-whisper run has no use for them.
    code = (
        "import sys\n"
        "from preannotate.cli import main\n"
        "code = main(['-q', 'run', '-i', sys.argv[1], '-o', sys.argv[2], '--no-progress',\n"
        "             '--set', 'model.name=bundled:tiny.en', '--set', 'model.engine=faster-whisper'])\n"
        "assert code == 0, code\n"
        "print(sorted(m for m in ('torch', 'whisper', 'numba') if m in sys.modules))\n"
    )
    args = [str(SAMPLES / "en"), str(tmp_path / "out")]
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
