"""sha256 of every recipe artifact file (meta.json excluded: it holds build_seconds) in caches.
usage: hashes.py CACHE..."""
import sys, hashlib, json
from pathlib import Path
rows = {}
for c in sys.argv[1:]:
    for meta in sorted(Path(c, "recipes").glob("*/*/meta.json")):
        d = meta.parent
        recipe = json.loads(meta.read_text())["parts"]
        name = f'{recipe["model"]}/{recipe["compression"]}'
        for f in sorted(d.rglob("*")):
            if f.is_file() and f.name != "meta.json":
                rows.setdefault((name, d.name[:12], str(f.relative_to(d))), {})[c] = hashlib.sha256(f.read_bytes()).hexdigest()
for (name, key, rel), h in sorted(rows.items()):
    same = len(set(h.values())) == 1 and len(h) == len(sys.argv[1:])
    print(f"{'SAME' if same else 'DIFF'} {name} key={key} {rel}")
    for c, v in h.items():
        print(f"     {v[:16]}  {c}")
