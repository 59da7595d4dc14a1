"""The DCGAN trainer behind examples/train_*.py, usable from Python too."""
from .config import Config, parse_args
from .trainer import Trainer, TrainingDiverged, main

__all__ = ["Config", "Trainer", "TrainingDiverged", "main", "parse_args"]
