"""Writes the option docs made from the typed options: configs/default.yaml and the notebooks' parameter comments.

    python tools/gen_option_docs.py           # rewrite what is stale (`make options-docs`)
    python tools/gen_option_docs.py --check   # change nothing; exit 1 if a file is stale

Each option's help lives once, in its field (`preannotate/options/`, `option(default, help)`):
configs/default.yaml gets every option with its default and its whole help; the notebooks'
parameter lines (`name: type = default  # help`) get the default and the help's first sentence.
Only the parameter lines of the `parameters` cell are rewritten; the cell's other lines are kept.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from preannotate.notebook import CORRECTION_PARAMETERS, PARAMETERS  # noqa: E402
from preannotate.options.base import ALWAYS  # noqa: E402
from preannotate.options.catalog import OptionInfo, iter_options, notebook_type, option_info  # noqa: E402

DEFAULT_YAML = ROOT / "configs" / "default.yaml"
NOTEBOOKS = {ROOT / "notebooks" / "preannotate.ipynb": PARAMETERS,
             ROOT / "notebooks" / "correction_report.ipynb": CORRECTION_PARAMETERS}  # fmt: skip
WIDTH = 120
HEADER = """\
# Every option of a run, with its default: a config only needs the lines it changes.
# Generated from the typed options (preannotate/options/) by `make options-docs`: edit the help there.
# Relative paths in a config file are relative to the file's folder (~ is the home folder): this file
# is in configs/, so the default folders samples and runs/latest read ../samples and ../runs/latest.
# Use: `preannotate run my.yaml`, `preannotate run --set transcribe.beam_size=null` (greedy),
# `preannotate batch --configs my.yaml other.yaml`.
# Secrets never go here: the SuperAnnotate token comes from SA_TOKEN (or a Colab secret).
"""
_PARAMETER_LINE = re.compile(r"^(?P<name>\w+): [^=]+ = .*$")


def yaml_value(value: Any) -> str:
    """A value as YAML flow text: lists in brackets, strings quoted only when YAML needs it."""
    text = yaml.safe_dump(list(value) if isinstance(value, tuple) else value, default_flow_style=True,
                          allow_unicode=True, width=10_000)  # fmt: skip
    return text.removesuffix("\n").removesuffix("\n...")


def yaml_default(info: OptionInfo) -> Any:
    """The default as written in configs/default.yaml: relative default paths seen from configs/."""
    if info.path == ALWAYS and isinstance(info.default, str) and not Path(info.default).is_absolute():
        return f"../{info.default}"
    return info.default


def commented(indent: str, code: str, help_text: str) -> list[str]:
    """`code  # help` when it fits in WIDTH, else the help wrapped in comment lines above the code."""
    inline = f"{indent}{code}  # {help_text}"
    if len(inline) <= WIDTH:
        return [inline]
    wrapped = textwrap.wrap(help_text, WIDTH - len(indent) - 2, break_on_hyphens=False)
    return [*(f"{indent}# {line}" for line in wrapped), f"{indent}{code}"]


def render_default_yaml() -> str:
    """The text of configs/default.yaml."""
    lines = [HEADER.rstrip("\n")]
    for info in iter_options():
        depth = info.key.count(".")
        if depth == 0:
            lines.append("")
        code = f"{info.key.rsplit('.', 1)[-1]}:"
        if not info.is_section:
            code += f" {yaml_value(yaml_default(info))}"
        lines.extend(commented("  " * depth, code, info.help))
    return "\n".join(lines) + "\n"


def python_value(value: Any) -> str:
    """A default as Python source, strings in double quotes."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple):
        return "[" + ", ".join(map(python_value, value)) + "]"
    return repr(value)


def render_parameter_cell(source: str, mapping: dict[str, str]) -> str:
    """The parameters cell with each parameter line made from its option; other lines as they are."""
    lines = []
    for line in source.split("\n"):
        match = _PARAMETER_LINE.match(line)
        info = option_info(mapping[match["name"]]) if match and match["name"] in mapping else None
        if info is not None:
            line = f"{match['name']}: {notebook_type(info.hint)} = {python_value(info.default)}  # {info.summary}"
        lines.append(line)
    return "\n".join(lines)


def render_notebook(path: Path, mapping: dict[str, str]) -> str:
    """The notebook's text with its parameters cell regenerated."""
    nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = render_parameter_cell(cell.source, mapping)
    return nbformat.writes(nb) + "\n"


def generated() -> dict[Path, str]:
    """Every generated file with the text it should have."""
    files = {DEFAULT_YAML: render_default_yaml()}
    files.update({path: render_notebook(path, mapping) for path, mapping in NOTEBOOKS.items()})
    return files


def main(argv: list[str] | None = None) -> int:
    """Rewrites the stale files; with --check only lists them (exit 1 when any is stale)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is stale")
    args = parser.parse_args(argv)
    stale = [path for path, text in generated().items() if path.read_text(encoding="utf-8") != text]
    for path in stale:
        if not args.check:
            path.write_text(generated()[path], encoding="utf-8")
        print(f"{'stale' if args.check else 'rewritten'}: {path.relative_to(ROOT)}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
