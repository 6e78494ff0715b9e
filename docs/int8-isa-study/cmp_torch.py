"""Compare two pickled (quantized) torch modules tensor by tensor (state_dict incl. packed params).
usage: cmp_torch.py A.pt B.pt"""
import sys

import compbench.compression.torch_int8_ptq  # noqa: F401  (restore_quantized_conv referenced by the pickle)
import torch

from compbench import compression

a, b = (torch.load(p, weights_only=False, map_location="cpu") for p in sys.argv[1:3])
sa, sb = a.state_dict(), b.state_dict()
def parts(v):
    if isinstance(v, torch.Tensor):
        if v.is_quantized:
            out = {"int_repr": v.int_repr()}
            if v.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
                out |= {"scales": v.q_per_channel_scales(), "zps": v.q_per_channel_zero_points()}
            else:
                out |= {"scale": torch.tensor(v.q_scale()), "zp": torch.tensor(v.q_zero_point())}
            return out
        return {"t": v}
    if isinstance(v, (tuple, list)):
        out = {}
        for i, x in enumerate(v):
            out |= {f"{i}.{k}": t for k, t in parts(x).items()}
        return out
    return {"obj": torch.tensor(float(v)) if isinstance(v, (int, float)) else None}
# quantized convs keep weights in packed params: expose them
def flat(m, sd):
    out = {}
    for k, v in sd.items():
        out |= {f"{k}:{s}": t for s, t in parts(v).items()}
    for name, mod in m.named_modules():
        if hasattr(mod, "weight") and callable(getattr(mod, "weight")):
            try:
                w = mod.weight(); bb = mod.bias()
            except Exception:
                continue
            out |= {f"{name}.weight():{s}": t for s, t in parts(w).items()}
            if bb is not None:
                out[f"{name}.bias()"] = bb
            out[f"{name}.scale"] = torch.tensor(float(mod.scale)); out[f"{name}.zero_point"] = torch.tensor(float(mod.zero_point))
    return out
fa, fb = flat(a, sa), flat(b, sb)
print(f"{len(fa)} tensors in A, {len(fb)} in B; keys equal: {set(fa)==set(fb)}")
ndiff = 0
for k in sorted(set(fa) & set(fb)):
    x, y = fa[k], fb[k]
    if x is None or y is None:
        continue
    if x.shape != y.shape or not torch.equal(x, y):
        ndiff += 1
        d = (x.double() - y.double()).abs().max().item() if x.shape == y.shape else float("nan")
        print(f"DIFF {k} shape {tuple(x.shape)} max|diff|={d:.3g}")
print(f"{ndiff} differing tensors; code equal: {a.code == b.code}")
