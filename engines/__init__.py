"""Inference engines behind one small interface (load an artifact, run a batch, report threads)."""
