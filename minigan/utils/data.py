"""torch.utils.data's names for minigan.data's Datasets and DataLoader (the same objects)."""
from ..data import DataLoader, Subset, TensorDataset, default_collate

__all__ = ["DataLoader", "Subset", "TensorDataset", "default_collate"]
