"""A small CNN for the 8x8 digits, trained from a fixed seed when compbench asks for the fp32
reference: the weights are a function of the code and the train split, so nothing is stored."""

from __future__ import annotations

from compbench.assets import Assets

EPOCHS = 10          # fixed by cost alone (a few seconds of one core), never tuned on the scores
BATCH = 64
LEARNING_RATE = 3e-3
SEED = 0


def network():
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
    )


def fp32_model(assets: Assets):
    """``ModelSpec.source``: the trained network (one thread, fixed seed: the same bits on
    every run of one machine)."""
    import torch

    from teamdigits.data import split

    torch.manual_seed(SEED)
    images, labels = (torch.from_numpy(a) for a in split("train"))
    model = network()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    order = torch.Generator().manual_seed(SEED)
    model.train()
    for _ in range(EPOCHS):
        for batch in torch.randperm(len(labels), generator=order).split(BATCH):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(images[batch]), labels[batch]).backward()
            optimizer.step()
    return model.eval()
