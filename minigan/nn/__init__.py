"""Modules with torch.nn's names."""
from .layers import (BatchNorm2d, Conv2d, ConvTranspose2d, Flatten, LeakyReLU, Linear, ReLU,
                     Sequential, Sigmoid, Tanh)
from .module import Module, Parameter

__all__ = ["BatchNorm2d", "Conv2d", "ConvTranspose2d", "Flatten", "LeakyReLU", "Linear", "Module",
           "Parameter", "ReLU", "Sequential", "Sigmoid", "Tanh"]
