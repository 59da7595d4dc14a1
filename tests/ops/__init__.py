"""Tests of the ops (minigan.functional and the autograd they run on)."""
