"""The only exceptions tinyml defines."""


class ModelError(ValueError):
    """The model bytes are malformed or inconsistent."""


class UnsupportedOpError(ModelError):
    """A valid model uses an op, or op combination, that tinyml does not implement."""
