"""What the compression recipes need to know about SCRFD in particular.

The recipes and their machinery (channel pruning, self-distillation, ReviewKD, the ONNX teacher)
work on any network; the facts that tie them to this detector live here: which channels can be
pruned together, how two sets of its nine outputs are compared, where its neck maps are in an
ONNX export and how its letterboxed inputs are cropped. ``models/`` cannot hold them, since
they are written in terms of the recipes' types.
"""
