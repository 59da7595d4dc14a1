"""torch.utils's place for minigan's data tools, so that `torch.utils.data.DataLoader` ports as
`minigan.utils.data.DataLoader`."""
from . import data

__all__ = ["data"]
