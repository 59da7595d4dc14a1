"""A loss's reduction argument, as torch's: 'none', 'mean' or 'sum', or its legacy flags."""
import warnings

REDUCTIONS = ("none", "mean", "sum")


def reduction_mode(op, size_average, reduce, reduction):
    """The reduction to apply: torch's legacy size_average and reduce flags, where given (with
    torch's warning), override reduction."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        legacy = "mean" if size_average and reduce else "sum" if reduce else "none"
        warnings.warn(f"{op}: size_average and reduce args will be deprecated, please use "
                      f"reduction={legacy!r} instead (torch's warning)", stacklevel=3)
        return legacy
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction (use one of {REDUCTIONS})")
    return reduction
