"""User-facing errors: bad input the user must fix, printed as one clear message, no traceback."""


class EditbenchError(Exception):
    """Bad input (config, dataset, prompt, device request). The message names the culprit and
    what was expected; the entry point prints it and exits non-zero."""
