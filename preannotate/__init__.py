"""preannotate: time-aligned transcript chunks from recordings, as SuperAnnotate pre-annotations."""

from .config import load_config
from .errors import PreannotateError
from .options import RunConfig

__version__ = "0.1.0"
__all__ = ["PreannotateError", "RunConfig", "__version__", "load_config"]
