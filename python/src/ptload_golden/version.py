"""The package's version and the manifest format it writes."""

__version__ = "2.0.0"
#: The manifest's `format`.
FORMAT = "ptload-golden"
#: The manifest's `format_version`: 2 adds input_dtype and torch_distance, and truths per call.
FORMAT_VERSION = 2
