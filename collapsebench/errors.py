"""Exceptions with messages meant for a person: one line that names the fix."""


class CollapseBenchError(Exception):
    """A user-facing error; the CLI prints its message on one line and exits non-zero."""


class ConfigError(CollapseBenchError):
    """A configuration file, preset or override is invalid."""


class UnknownNameError(CollapseBenchError):
    """A name (track, model, mitigation, metric, plugin) is not registered."""


class DataError(CollapseBenchError):
    """Real data is missing, unreadable or malformed."""


class DegenerateFit(Exception):
    """A model could not be fitted (singular covariance, NaN loss, identical samples).

    The chain records it as a collapsed generation with ``reason``: a finding, not a crash.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
