"""Fresh process: build (prepare+compress) the given variants into CACHE, print sha256 of artifacts.
usage: build.py CACHE VARIANT..."""
import sys, time, hashlib, json
from pathlib import Path
import compbench
assert compbench.__file__.startswith("/tmp/int8study/"), compbench.__file__
from compbench.assets import Assets
from compbench.cache import ArtifactCache, cache_key
from compbench.pipeline import VariantPipeline
from compbench.variants import get_variant

cache_dir = Path(sys.argv[1])
for vid in sys.argv[2:]:
    t = time.time()
    p = VariantPipeline(get_variant(vid), Assets(), ArtifactCache(cache_dir))
    p.prepare()
    art = p.compress()
    d = art.path.parent
    print(f"BUILT {vid} in {time.time()-t:.1f}s key={d.name}", flush=True)
    for f in sorted(d.rglob("*")):
        if f.is_file() and f.name != "meta.json":
            print(f"  {hashlib.sha256(f.read_bytes()).hexdigest()}  {f.relative_to(d)}", flush=True)
