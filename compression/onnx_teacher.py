"""A frozen ONNX model as a distillation teacher: intermediate tensors exposed as extra outputs.

The teacher is never ported to PyTorch. A copy of its graph gets the wanted intermediate tensors
appended to ``graph.output`` (the original outputs keep their names, order and values), and
onnxruntime runs that copy. Which tensors to expose is the caller's (for SCRFD exports,
``compbench.compression.scrfd.onnx_teacher`` finds the neck maps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


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

    def __call__(self, blob: np.ndarray) -> TeacherOutputs:
        results = self.session.run(None, {self.input_name: blob})
        return TeacherOutputs(results[:self.num_outputs], results[self.num_outputs:])
