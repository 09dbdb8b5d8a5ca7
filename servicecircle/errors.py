"""Errors raised at the boundaries of the pipeline.

Every error a user can cause (a missing file, a typo in the config, an area
with no walkable ways) is a :class:`ServiceCircleError` with a one-line message
that names the file, key or row at fault. The command-line tool prints that
line and exits non-zero without a traceback.
"""


class ServiceCircleError(Exception):
    """Base class for errors caused by inputs rather than by bugs."""


class ConfigError(ServiceCircleError):
    """The study-area configuration is invalid; the message names the key."""


class InputError(ServiceCircleError):
    """An input file is missing, unreadable or holds nothing usable."""
