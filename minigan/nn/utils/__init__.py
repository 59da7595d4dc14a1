"""torch.nn.utils's module helpers."""
from .spectral_norm import remove_spectral_norm, spectral_norm

__all__ = ["remove_spectral_norm", "spectral_norm"]
