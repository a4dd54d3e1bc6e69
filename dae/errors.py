"""The one exception type the pipeline turns into a one-line message and a non-zero exit."""


class DaeError(Exception):
    """A problem the user can fix: bad params, a missing dataset, a corrupt file."""
