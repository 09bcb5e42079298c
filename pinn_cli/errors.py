"""User-facing errors: one line that names the key, the value and what is allowed."""


class PinnError(Exception):
    """An error caused by the user's input; printed as one line, never as a traceback."""


class ConfigError(PinnError):
    """A configuration value that is not allowed."""

    def __init__(self, key: str, value, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r} is not allowed: expected {allowed}")
