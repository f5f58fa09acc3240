"""What the tests share: the loopback SuperAnnotate server, the annotation schema, media and config helpers.

Test modules import it as `support` (pytest puts `tests/` on `sys.path`); fixtures live in `tests/conftest.py`.
"""
