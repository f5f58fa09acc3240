"""Allows `python -m preannotate`."""

import sys

from .cli import main

sys.exit(main())
