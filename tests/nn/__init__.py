"""Tests of minigan.nn."""
