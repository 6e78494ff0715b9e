"""The spawned parallel prebuild path, jobs=1.  usage: prebuild_run.py CACHE VARIANT..."""
import sys, time
from pathlib import Path
import compbench
assert compbench.__file__.startswith("/tmp/int8study/"), compbench.__file__
from compbench.assets import Assets
from compbench.cache import ArtifactCache
from compbench.prebuild import prebuild

if __name__ == "__main__":
    t = time.time()
    prebuild(sys.argv[2:], Assets(), ArtifactCache(Path(sys.argv[1])), jobs=1)
    print(f"prebuild done in {time.time()-t:.1f}s")
