"""Tests of minigan.training."""
