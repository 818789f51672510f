"""Expected zscale limits of real cutouts, by astropy (the scaling
astronomers see in their viewers): tests/data/expected/zscale.json.

    ~/.cache/ampel-test/ampelpy/bin/python tests/reference/zscale_reference.py \
        ../shared/data > tests/data/expected/zscale.json

The first 3 alerts of the ZTF v4.02 set and the first 2 of the Rubin v9
set; per stamp: [vmin, vmax, width, height] of
astropy.visualization.ZScaleInterval().get_limits on the primary image.
"""
import gzip
import io
import json
import sys
import tarfile
import warnings

import fastavro
from astropy.io import fits
from astropy.visualization import ZScaleInterval

warnings.simplefilter("ignore")
root = sys.argv[1]
out = []
for path, n in [("ztf/ztf_public_20231018_v4.02.tar.gz", 3), ("lsst/lsst_v9.0_20250905.tar.gz", 2)]:
    t = tarfile.open(f"{root}/{path}")
    k = 0
    for m in t:
        if not m.isfile():
            continue
        for r in fastavro.reader(t.extractfile(m)):
            if "candidate" in r:
                cid = r["candid"]
                stamps = {s: r["cutout" + s]["stampData"] for s in ("Science", "Template", "Difference")}
            else:
                cid = r["diaSourceId"]
                stamps = {s: r["cutout" + s] for s in ("Science", "Template", "Difference")}
            lim = {}
            for s, d in stamps.items():
                if d is None:
                    continue
                raw = gzip.decompress(d) if d[:2] == b"\x1f\x8b" else d
                data = fits.open(io.BytesIO(raw))[0].data.astype(float)
                lo, hi = ZScaleInterval().get_limits(data)
                lim[s.lower()] = [float(lo), float(hi), int(data.shape[1]), int(data.shape[0])]
            out.append({"file": path, "member": m.name, "id": cid, "limits": lim})
        k += 1
        if k == n:
            break
print(json.dumps(out, indent=1))
