"""Where an SCRFD ONNX export keeps its neck maps, and an ``OnnxTeacher`` that returns them.

``scrfd_neck_outputs`` finds the neck (PAFPN) maps by graph structure alone: the per-stride head
of stride *k* is the set of nodes that only the outputs of stride *k* depend on, and the tensor
entering that set is the neck map it reads. Names are not trusted, so any SCRFD export (the
2.5G teacher, the 500M student) works.
"""

from __future__ import annotations

from pathlib import Path

from compbench.compression.onnx_teacher import OnnxTeacher

NUM_STRIDES = 3  # SCRFD: strides 8/16/32, outputs grouped by kind (scores, boxes[, keypoints])

_ACTIVATIONS = {"Relu", "LeakyRelu", "PRelu", "Clip", "Elu", "Selu", "HardSwish", "Mish"}
_NORMALISATIONS = {"BatchNormalization", "InstanceNormalization", "GroupNormalization"}


class _Graph:
    """Producer lookup plus the notion of a node's *data* inputs.

    Constants (initializers, ``Constant`` nodes) and shape arithmetic (anything computed only
    from ``Shape`` outputs and constants, e.g. Reshape targets) are not data.
    """

    def __init__(self, graph) -> None:
        self.producer = {name: node for node in graph.node for name in node.output}
        self.static = {init.name for init in graph.initializer}
        for node in graph.node:  # topological order: inputs are classified before outputs
            inputs = [i for i in node.input if i]
            if node.op_type in ("Constant", "Shape", "Size") or \
                    all(i in self.static for i in inputs):
                self.static.update(node.output)

    def data_inputs(self, node) -> list[str]:
        return [i for i in node.input if i and i not in self.static]

    def single_data_input(self, node) -> str:
        inputs = self.data_inputs(node)
        if len(inputs) != 1:
            raise ValueError(f"{node.op_type} node {node.name or node.output[0]!r} has data "
                             f"inputs {inputs}; expected exactly one")
        return inputs[0]


def _tower_output(g: _Graph, output: str) -> str:
    """From a head output back through its layout ops to the input of its predictor conv."""
    name = output
    while True:
        node = g.producer.get(name)
        if node is None:
            raise ValueError(f"{output!r}: reached graph input {name!r} before any Conv")
        name = g.single_data_input(node)
        if node.op_type == "Conv":
            return name


def _head_entry(g: _Graph, tower_output: str) -> tuple[str, list[str]]:
    """Walk back over the tower's conv(+norm)+activation blocks; return (entry, op sequence).

    The SCRFD neck (PAFPN) has no activation at all while every tower block ends with one, so
    the first tensor on the way back that is not an activation output is the neck map.
    """
    name, ops = tower_output, []
    while (node := g.producer.get(name)) is not None and node.op_type in _ACTIVATIONS:
        ops.append(node.op_type)
        name = g.single_data_input(node)
        node = g.producer.get(name)
        while node is not None and node.op_type in _NORMALISATIONS:
            ops.append(node.op_type)
            name = g.single_data_input(node)
            node = g.producer.get(name)
        if node is None or node.op_type != "Conv":
            raise ValueError(f"activation over {name!r} is not preceded by a Conv")
        ops.append("Conv")
        name = g.single_data_input(node)
    if not ops:
        raise ValueError(f"no conv+activation tower before {tower_output!r}")
    return name, ops


def scrfd_neck_outputs(model_or_path) -> list[str]:
    """Names of the three neck maps feeding the stride-8/16/32 heads of an SCRFD ONNX graph.

    Outputs are grouped per stride as the official export orders them (``out{k}``,
    ``out{k+3}``[, ``out{k+6}``] belong to stride index ``k``). Within a stride, every output's
    predictor conv must read the same tower, and the three towers must have the same layers;
    otherwise ``ValueError`` (the graph is not laid out like an SCRFD export).
    """
    import onnx

    model = onnx.load(str(model_or_path)) if isinstance(model_or_path, (str, Path)) \
        else model_or_path
    g = _Graph(model.graph)
    outputs = [o.name for o in model.graph.output]
    if not outputs or len(outputs) % NUM_STRIDES:
        raise ValueError(f"expected a multiple of {NUM_STRIDES} SCRFD outputs, got {outputs}")
    necks, towers = [], []
    for k in range(NUM_STRIDES):
        group = outputs[k::NUM_STRIDES]
        tower = {_tower_output(g, o) for o in group}
        if len(tower) != 1:
            raise ValueError(f"outputs {group} do not share one head tower: {sorted(tower)}")
        entry, ops = _head_entry(g, tower.pop())
        necks.append(entry)
        towers.append(ops)
    if any(ops != towers[0] for ops in towers) or len(set(necks)) != NUM_STRIDES:
        raise ValueError(f"per-stride heads differ ({towers}) or share an input ({necks})")
    return necks


def scrfd_teacher(source: str | Path, scratch: str | Path, threads: int = 2,
                  any_input_size: bool = False) -> OnnxTeacher:
    """An SCRFD teacher returning its 6/9 outputs plus the stride-8/16/32 neck maps."""
    return OnnxTeacher(source, scrfd_neck_outputs(source), scratch, threads, any_input_size)
