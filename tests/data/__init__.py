"""Tests of minigan.data."""
