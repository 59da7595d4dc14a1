"""How the command lines end on an error: one sentence on stderr and an exit status, no
traceback unless MINIGAN_DEBUG=1 is set."""
import os
import sys

from .rundir import is_disk_full


def reported(body, known):
    """body()'s exit status; an exception of a type in known (a {types: status} dict) is its
    message and that status, an OSError (a file that could not be read or written) its file,
    anything else its type (a bug: MINIGAN_DEBUG=1 shows where)."""
    debug = os.environ.get("MINIGAN_DEBUG") == "1"
    try:
        return body()
    except KeyboardInterrupt:
        if debug:
            raise
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if debug:
            raise
        status = next((s for types, s in known.items() if isinstance(error, types)), None)
        if status is not None:
            print(f"error: {error}", file=sys.stderr)
            return status
        if isinstance(error, OSError):
            what = "the disk is full" if is_disk_full(error) else error.strerror or str(error)
            print(f"error: {what}: {error.filename or 'a file'}", file=sys.stderr)
            return 1
        print(f"error: an unexpected {type(error).__name__}: {error}; "
              f"set MINIGAN_DEBUG=1 to see where it happened", file=sys.stderr)
        return 1
