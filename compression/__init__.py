"""Compression recipes: one function per variant (int8 PTQ, QAT, pruning, distillation, ...)."""
