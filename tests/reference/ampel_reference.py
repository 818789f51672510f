#!/usr/bin/env python3
"""Expected outputs from Python AMPEL, for the Rust tests to compare against.

Run in a venv with `pip install ampel-ztf ampel-alerts ampel-core
ampel-interface ampel-photometry fastavro cramjam`:

    python tests/reference/ampel_reference.py ALERTS.tar.gz... > expected.jsonl

For every alert it prints one JSON line with what Python AMPEL computes:
the stock id (ZTFIdMapper), datapoint ids in shaper order
(ZiAlertSupplier.shape_alert_dict + ZiDataPointShaper), the T1 links for
public and private access (T1Compiler's hash), the galactic latitude
(astropy), DecentFilter verdicts for the configs in decent_configs.json,
the T2LightCurveSummary body (default config) of each alert's public state,
and a digest of each datapoint's shaped body (xxh64 of its compact JSON,
NaN as null: the archive stores JSON, which has no NaN).
"""
import json
import sys
import tarfile
from pathlib import Path
from struct import pack

import fastavro
import xxhash
from astropy.coordinates import SkyCoord

from ampel.log.AmpelLogger import AmpelLogger
from ampel.ztf.alert.ZiAlertSupplier import ZiAlertSupplier
from ampel.ztf.ingest.ZiDataPointShaper import ZiDataPointShaperBase
from ampel.ztf.t0.DecentFilter import DecentFilter
from ampel.ztf.t2.T2LightCurveSummary import T2LightCurveSummary
from ampel.view.LightCurve import LightCurve

# DecentFilter configs, shared with the Rust tests (tests/python_parity.rs).
CONFIGS = json.load(open(Path(__file__).with_name("decent_configs.json")))


def link(ids):
    i = xxhash.xxh32_intdigest(pack(f">{len(ids)}q", *sorted(ids)), 0)
    return i - 2**32 if i & (1 << 31) else i


def nan_to_none(v):
    return None if isinstance(v, float) and v != v else v


def body_digest(body):
    text = json.dumps({k: nan_to_none(v) for k, v in body.items()}, separators=(",", ":"))
    return xxhash.xxh64_intdigest(text.encode(), 0)


def main():
    logger = AmpelLogger.get_logger()
    filters = {k: DecentFilter(logger=logger, **v) for k, v in CONFIGS.items()}
    for f in filters.values():
        f.post_init()  # the AMPEL context calls this; plain construction does not
    shaper = ZiDataPointShaperBase()
    lc_unit = T2LightCurveSummary(logger=logger)
    for path in sys.argv[1:]:
        with tarfile.open(path) as tar:
            for member in tar:
                if not member.isfile() or not member.name.endswith(".avro"):
                    continue
                rec = next(fastavro.reader(tar.extractfile(member)))
                alert = ZiAlertSupplier.shape_alert_dict(rec)
                dps = shaper.process([dict(d) for d in alert.datapoints], alert.stock)
                ids = [d["id"] for d in dps]
                pub = [d["id"] for d in dps if "ZTF_PUB" in d["tag"]]
                # T2LightCurveSummary on the public state of this alert: t1 dps
                # sorted ascending (T1Compiler), datapoints in that order (T2Worker).
                public = sorted((d for d in dps if "ZTF_PUB" in d["tag"]), key=lambda d: d["id"])
                t1 = {"link": link(pub), "stock": alert.stock, "dps": [d["id"] for d in public]}
                lc_summary = lc_unit.process(LightCurve.build(t1, public))
                c = rec["candidate"]
                b = SkyCoord(c["ra"], c["dec"], unit="deg").galactic.b.deg
                out = {
                    "member": member.name,
                    "candid": rec["candid"],
                    "objectId": rec["objectId"],
                    # Absent before schema 2.0.
                    "schemavsn": rec.get("schemavsn"),
                    "stock": alert.stock,
                    "datapoints": ids,
                    "link": link(pub),
                    "link_priv": link(ids),
                    "gal_b": b,
                    "verdicts": {k: bool(f.process(alert)) for k, f in filters.items()},
                    "t2_lightcurve_summary": lc_summary,
                    "t0_body_digests": [body_digest(d["body"]) for d in dps],
                }
                print(json.dumps(out))


if __name__ == "__main__":
    main()
