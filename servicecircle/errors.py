"""Errors raised at the boundaries of the pipeline.

Every error a user can cause (a missing file, a typo in the config, an area
with no walkable ways) is a :class:`ServiceCircleError` with a one-line message
that names the file, key or row at fault. The command-line tool prints that
line and exits non-zero without a traceback.
"""


from typing import Any


class ServiceCircleError(Exception):
    """Base class for errors caused by inputs rather than by bugs.

    ``ServiceCircleError(message)`` says it in English; ``ServiceCircleError(key=..., **values)`` names an
    entry of the text catalogue (:mod:`servicecircle.texts`) so that :meth:`worded` gives it in the run's
    language (``str()`` is the English). A value given as ``(key, values)`` is itself a catalogue entry,
    worded in the same language (and so are its own ``(key, values)`` values).
    """

    def __init__(self, message: str = "", /, *, key: str | None = None, **values: Any):
        self.key, self.values = key, values
        super().__init__(message if key is None else self.worded("en"))

    def worded(self, lang: str) -> str:
        """The message in ``lang`` (``zh`` or ``en``): the catalogue's wording where the error names a key."""
        if self.key is None:
            return str(self)
        return _worded(lang, self.key, self.values)


def _worded(lang: str, key: str, values: dict[str, Any]) -> str:
    """Catalogue entry ``key`` in ``lang``, a ``(key, values)`` value worded in turn (at any depth)."""
    from . import texts

    def entry(v: Any) -> bool:  # a (key, values) pair naming the catalogue, not any tuple (a bbox stays a value)
        return isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], dict) and v[0] in texts.TEXTS

    return texts.text(lang, key, **{name: _worded(lang, *v) if entry(v) else v for name, v in values.items()})


class ConfigError(ServiceCircleError):
    """The study-area configuration is invalid; the message names the key."""


class InputError(ServiceCircleError):
    """An input file is missing, unreadable or holds nothing usable."""
