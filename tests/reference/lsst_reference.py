#!/usr/bin/env python3
"""Expected LSST ids for ../shared/data/lsst/lsst_*.tar.gz, read with fastavro alone.

    python tests/reference/lsst_reference.py ../shared/data/lsst/lsst_v9.0_20250905.tar.gz \
        > tests/data/expected/lsst_v9.0_20250905.jsonl

Stock: diaSource.diaObjectId (ssObjectId when that is 0/null); datapoints:
diaSourceId, prvDiaSources' diaSourceIds, prvDiaForcedSources'
diaForcedSourceIds; link: AMPEL's T1 hash of those ids.
"""
import json
import sys
import tarfile
from struct import pack

import fastavro
import xxhash


def link(ids):
    i = xxhash.xxh32_intdigest(pack(f">{len(ids)}q", *sorted(ids)), 0)
    return i - 2**32 if i & (1 << 31) else i


for path in sys.argv[1:]:
    with tarfile.open(path) as t:
        for m in t:
            r = next(fastavro.reader(t.extractfile(m)))
            ds = r["diaSource"]
            stock = ds["diaObjectId"] or ds["ssObjectId"]
            ids = ([r["diaSourceId"]]
                   + [p["diaSourceId"] for p in (r["prvDiaSources"] or [])]
                   + [p["diaForcedSourceId"] for p in (r["prvDiaForcedSources"] or [])])
            print(json.dumps({"member": m.name, "candid": r["diaSourceId"], "stock": stock,
                              "datapoints": ids, "link": link(ids)}))
