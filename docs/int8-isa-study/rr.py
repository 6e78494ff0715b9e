"""int8-ort recipe re-done outside the repo with reduce_range (or other quantize_static kwargs),
then evaluated on onnxruntime and OpenVINO, exactly as compression/ort_int8_static.py builds it.
usage: rr.py MODEL OUT_DIR '{"reduce_range": true}' [engines...]"""
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import compbench

assert compbench.__file__.startswith("/tmp/int8study/"), compbench.__file__
from compbench.compression.base import RecipeContext
from compbench.compression.ort_int8_static import _CalibrationReader
from compbench.engines.registry import get_engine
from compbench.tasks import create_task
from compbench.variants import MODELS

from compbench.assets import Assets

model_name, out_dir, kwargs = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
engines = sys.argv[4:] or ["onnxruntime", "openvino"]
out_dir.mkdir(parents=True, exist_ok=True)
spec = MODELS[model_name]
assets = Assets()
task = create_task(spec, assets)
target = out_dir / "model.onnx"
if not target.exists():
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    ctx = RecipeContext(spec, "int8-ort", out_dir, task, assets, 0)
    t = time.time()
    dynamic = spec.eval_batch > 1
    # as the pipeline: the recipe's fp32 export (batch 1); CIFAR artifacts then are fixed batch 1 too
    fp32 = ctx.fp32_onnx()
    prepared = ctx.scratch_dir() / "prepared.onnx"
    quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
    reader = _CalibrationReader("images", ctx.calibration_inputs(), task.calibration_size)
    quantize_static(str(prepared), str(target), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax, **kwargs)
    print(f"built {target} with {kwargs} in {time.time()-t:.1f}s", flush=True)
# weight integer range actually used
import onnx
from onnx import numpy_helper

m = onnx.load(str(target))
inits = {i.name: i for i in m.graph.initializer}
wmax, amaxz = 0, []
for n in m.graph.node:
    if n.op_type == "DequantizeLinear" and n.input[0] in inits:
        a = numpy_helper.to_array(inits[n.input[0]])
        if a.dtype == np.int8:
            wmax = max(wmax, int(np.abs(a.astype(np.int32)).max()))
print(f"max |int8 weight| = {wmax}", flush=True)
for engine_name in engines:
    engine = get_engine(engine_name)
    path = target
    if engine.config.artifact_format == "openvino":
        from compbench.converters.onnx_to_openvino import convert
        path = out_dir / "ov" / "model.xml"
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            convert(target, path, spec.input_shape, spec.eval_batch > 1)
    session = engine.load(path)
    batch = spec.eval_batch if session.accepts_batch(spec.eval_batch) else 1
    t = time.time()
    acc = task.evaluate(session.run, f"{model_name}/rr/{engine_name}", batch)
    print(f"ACC {model_name} {kwargs} {engine_name}: " + " ".join(f"{k}={v:.6f}" for k, v in acc.items())
          + f" ({time.time()-t:.1f}s, batch {batch})", flush=True)
