"""Pickling of quantized torch modules (the ``torch`` artifacts of ``int8-ptq`` and ``int8-qat``).

Why this module keeps its name: every saved int8 artifact refers to
``compbench.compression.torch_int8_ptq.restore_quantized_conv`` by that path (a pickle names the function
that rebuilds an object), so loading any existing artifact imports it from here, and moving it
would change the bytes of every int8 artifact built from now on. The recipe itself is
``compbench.compression.int8_ptq``.

A converted ``GraphModule`` is saved with ``torch.save`` as the "torch" artifact, which needs two
fixes: FX records the ``forward`` annotations (strings under ``from __future__ import
annotations``) as graph globals that ``GraphModule.__reduce__`` cannot pickle (``make_picklable``
drops them); and the quantized conv modules' ``__setstate__`` restores only the conv's own fields,
not ``nn.Module``'s internals (``_modules``...), so an unpickled one breaks ``.eval()`` and the
GraphModule's re-tracing. ``save_quantized`` therefore pickles those convs through
``restore_quantized_conv``, which initialises the ``nn.Module`` first (a ``copyreg`` reducer
registered only while saving; loading just imports this module by name).
"""

from __future__ import annotations

import copyreg
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from compbench.compression.base import RecipeContext
from compbench.formats.artifacts import Artifact, artifact_in


def _quantized_conv_classes() -> list[type]:
    from torch.ao.nn.quantized.modules.conv import _ConvNd

    found, pending = [], [_ConvNd]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def restore_quantized_conv(cls: type, state: tuple) -> nn.Module:
    """Unpickling counterpart of ``_reduce_quantized_conv`` (referenced by name in the pickle)."""
    module = cls.__new__(cls)
    nn.Module.__init__(module)
    module.__setstate__(state)
    return module


def _reduce_quantized_conv(module: nn.Module):
    return restore_quantized_conv, (type(module), module.__getstate__())


@contextmanager
def _picklable_quantized_convs() -> Iterator[None]:
    classes = _quantized_conv_classes()
    previous = {cls: copyreg.dispatch_table.get(cls) for cls in classes}
    for cls in classes:
        copyreg.dispatch_table[cls] = _reduce_quantized_conv
    try:
        yield
    finally:
        for cls, reducer in previous.items():
            if reducer is None:
                copyreg.dispatch_table.pop(cls, None)
            else:
                copyreg.dispatch_table[cls] = reducer


def dump_quantized(module: nn.Module, target) -> None:
    """``torch.save`` for modules holding quantized convs: loadable with plain ``torch.load``."""
    with _picklable_quantized_convs():
        torch.save(module, target)


def save_quantized(ctx: RecipeContext, module: nn.Module) -> Artifact:
    """``ctx.save_torch`` for quantized modules (see ``dump_quantized``)."""
    artifact = artifact_in(ctx.out_dir, "torch")
    dump_quantized(module.eval(), artifact.path)
    return artifact
