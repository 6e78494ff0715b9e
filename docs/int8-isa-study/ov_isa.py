"""Which kernels OpenVINO's CPU plugin picks (runtime model rt_info primitiveType), e.g. under
ONEDNN_MAX_CPU_ISA.  usage: ov_isa.py MODEL.xml|onnx"""
import os, sys, collections
import openvino as ov
core = ov.Core()
c = core.compile_model(core.read_model(sys.argv[1]), "CPU", {"INFERENCE_NUM_THREADS": 1, "NUM_STREAMS": 1,
    "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"})
cnt = collections.Counter()
for op in c.get_runtime_model().get_ordered_ops():
    rt = op.get_rt_info()
    if "layerType" in rt and rt["layerType"].astype(str) in ("Convolution", "GroupConvolution", "FullyConnected", "MatMul"):
        cnt[(rt["layerType"].astype(str), rt["primitiveType"].astype(str), rt["runtimePrecision"].astype(str))] += 1
print("ONEDNN_MAX_CPU_ISA=", os.environ.get("ONEDNN_MAX_CPU_ISA"), "caps:", core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
for k, v in sorted(cnt.items()):
    print(f"  {v:3d} x {k}")
