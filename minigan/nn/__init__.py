"""Modules with torch.nn's names."""
from .layers import (AvgPool2d, BatchNorm2d, Conv2d, ConvTranspose2d, Flatten, LeakyReLU, Linear,
                     MaxPool2d, ReLU, Sequential, Sigmoid, Tanh)
from .module import Module, Parameter

__all__ = ["AvgPool2d", "BatchNorm2d", "Conv2d", "ConvTranspose2d", "Flatten", "LeakyReLU", "Linear",
           "MaxPool2d", "Module", "Parameter", "ReLU", "Sequential", "Sigmoid", "Tanh"]
