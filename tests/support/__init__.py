"""What the tests share; test modules import it as `support` (pytest puts `tests/` on `sys.path`).

- `sa_server`: the SuperAnnotate-compatible loopback server (with `sa_metadata`'s routes) and its fixtures.
- `sa_schema`: the Video annotation schema; the server refuses uploads with it, tests check exports with it.
- `media`: making and reading test audio, the samples and `pauses.opus`.
- `configs`: run configurations over a temporary folder.
- `upload_runs`, `correction_runs`: finished runs written without a model, for upload and correction tests.

Fixtures are offered to every module by `tests/conftest.py`.
"""
