"""The DCGAN trainer behind examples/train_*.py, usable from Python too.

trainer.py holds the step and the loop; resume.py the checkpoint and resume
rules; graphed_step.py the step's CUDA-graph capture; cli.py the command line;
config.py the configuration and its flags.
"""
from .cli import main
from .config import Config, parse_args
from .trainer import Trainer, TrainingDiverged

__all__ = ["Config", "Trainer", "TrainingDiverged", "main", "parse_args"]
