"""Accuracy protocols: WIDER FACE AP for the detector, top-1 for the CIFAR-10 classifiers."""
