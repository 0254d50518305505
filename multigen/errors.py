"""The one exception family that the CLI and the pages turn into a one-line message."""


class MultigenError(Exception):
    """A problem the user can fix; the message says what happened and what to do."""
