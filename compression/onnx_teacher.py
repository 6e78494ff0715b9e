"""A frozen ONNX model as a distillation teacher: intermediate tensors exposed as extra outputs.

The teacher is never ported to PyTorch. A copy of its graph gets the wanted intermediate tensors
appended to ``graph.output`` (the original outputs keep their names, order and values), and
onnxruntime runs that copy. For SCRFD graphs, ``scrfd_neck_outputs`` finds the neck (PAFPN)
maps by graph structure alone: the per-stride head of stride *k* is the set of nodes that only
the outputs of stride *k* depend on, and the tensor entering that set is the neck map it reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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


def expose_outputs(source: str | Path, tensors: Sequence[str], target: str | Path,
                   any_input_size: bool = False) -> Path:
    """Write a copy of ``source`` whose outputs are the original ones followed by ``tensors``.

    ``any_input_size`` turns the declared height and width of the (NCHW) inputs, and every
    output dimension but the batch, into free dimensions; the graph must compute its shapes at
    run time (SCRFD exports do: Reshape targets come from ``Shape``, Resize takes sizes).
    """
    import onnx
    from onnx import TensorProto, helper, shape_inference

    model = onnx.load(str(source))
    graph = model.graph
    known = {o.name for o in graph.output}
    produced = {o for node in graph.node for o in node.output}
    missing = [t for t in tensors if t not in produced]
    if missing:
        raise ValueError(f"tensors {missing} are not produced by any node of {source}")
    inferred = {v.name: v for v in shape_inference.infer_shapes(model).graph.value_info}
    for name in tensors:
        if name in known:
            continue
        elem_type, shape = TensorProto.FLOAT, None
        if name in inferred and inferred[name].type.tensor_type.HasField("shape"):
            tensor_type = inferred[name].type.tensor_type
            elem_type = tensor_type.elem_type
            # Unknown (or the bogus 0 some exports infer for the batch) stays symbolic.
            shape = [d.dim_value if d.dim_value > 0 else f"{name}_dim{i}"
                     for i, d in enumerate(tensor_type.shape.dim)]
        graph.output.append(helper.make_tensor_value_info(name, elem_type, shape))
    if any_input_size:
        for value in graph.input:
            for i, dim in enumerate(value.type.tensor_type.shape.dim):
                if i >= 2:
                    dim.dim_param = f"{value.name}_dim{i}"
        for value in graph.output:
            for i, dim in enumerate(value.type.tensor_type.shape.dim):
                if i >= 1:
                    dim.dim_param = f"{value.name}_dim{i}"
    onnx.checker.check_model(model)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(target))
    return target


@dataclass
class TeacherOutputs:
    outputs: list[np.ndarray]   # the model's original outputs, unchanged
    features: list[np.ndarray]  # the exposed tensors, in the order they were asked for


class OnnxTeacher:
    """onnxruntime session over a graph with exposed intermediate tensors."""

    def __init__(self, source: str | Path, tensors: Sequence[str], scratch: str | Path,
                 threads: int = 2, any_input_size: bool = False):
        import onnxruntime as ort

        self.tensors = list(tensors)
        self.path = expose_outputs(source, self.tensors, Path(scratch) / "teacher_exposed.onnx",
                                   any_input_size)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(self.path), options,
                                            providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        names = [o.name for o in self.session.get_outputs()]
        self.num_outputs = len(names) - len(self.tensors)
        if names[self.num_outputs:] != self.tensors:
            raise RuntimeError(f"exposed outputs came back as {names[self.num_outputs:]}")

    @classmethod
    def scrfd(cls, source: str | Path, scratch: str | Path, threads: int = 2,
              any_input_size: bool = False) -> OnnxTeacher:
        """An SCRFD teacher returning its 6/9 outputs plus the stride-8/16/32 neck maps."""
        return cls(source, scrfd_neck_outputs(source), scratch, threads, any_input_size)

    def __call__(self, blob: np.ndarray) -> TeacherOutputs:
        results = self.session.run(None, {self.input_name: blob})
        return TeacherOutputs(results[:self.num_outputs], results[self.num_outputs:])
