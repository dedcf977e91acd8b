"""User-facing errors: bad input the user must fix, printed as one clear message, no traceback."""


class EditbenchError(Exception):
    """Bad input (config, dataset, prompt, device request). The message names the culprit and
    what was expected; the entry point prints it and exits non-zero."""


class SampleError(Exception):
    """One sample cannot be done (an edit the model returned as NaN, a damaged image file): that
    sample gets a failure status with this message and the run goes on. Editors and judges raise
    it where they find such a problem; the message names the sample's file or value."""


class RunIncomplete(Exception):
    """The run ended and wrote everything, but judged no sample or too few of them
    (``min_coverage``): its numbers are not a result. The message counts the failures by status
    and quotes the first error of each."""
