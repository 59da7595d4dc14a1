"""Tests of minigan.metrics."""
