"""Evaluate a variant's cached artifact WITHOUT the accuracy cache (task.evaluate directly).
usage: evaluate.py CACHE VARIANT [repeat]"""
import sys, time, os
from pathlib import Path
import compbench
assert compbench.__file__.startswith("/tmp/int8study/"), compbench.__file__
from compbench.assets import Assets
from compbench.cache import ArtifactCache
from compbench.pipeline import VariantPipeline
from compbench.variants import get_variant

cache_dir, vid = Path(sys.argv[1]), sys.argv[2]
repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 1
p = VariantPipeline(get_variant(vid), Assets(), ArtifactCache(cache_dir))
p.prepare()
if os.environ.get("QENGINE"):  # emulate another machine's quantized-engine dispatch (torch rows)
    import torch
    torch.backends.quantized.engine = os.environ["QENGINE"]
if "torch" in vid.split("/")[-1]:
    import torch
    print("torch qengine", torch.backends.quantized.engine, "cpu capability", torch.backends.cpu.get_cpu_capability(),
          "FBGEMM_ENABLE_INSTRUCTIONS=", os.environ.get("FBGEMM_ENABLE_INSTRUCTIONS"), flush=True)
art = p.save()
print("artifact", art.path, "env ONEDNN_MAX_CPU_ISA=", os.environ.get("ONEDNN_MAX_CPU_ISA"),
      "ATEN_CPU_CAPABILITY=", os.environ.get("ATEN_CPU_CAPABILITY"), flush=True)
batch = p.variant.model.eval_batch
if not p.session.accepts_batch(batch):
    batch = 1
for i in range(repeat):
    t = time.time()
    acc = p.task.evaluate(p.session.run, vid, batch)
    print(f"ACC {vid} run{i}: " + " ".join(f"{k}={v:.6f}" for k, v in acc.items()) + f"  ({time.time()-t:.1f}s)", flush=True)
