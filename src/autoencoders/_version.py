"""The version of the library, kept apart so that any module can read it without a circle."""

__version__ = "0.2.0"
