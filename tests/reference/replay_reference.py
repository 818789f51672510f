#!/usr/bin/env python3
"""Expected T2LightCurveSummary documents of an accept-all replay, from
Python AMPEL's own units (same venv as ampel_reference.py):

    python tests/reference/replay_reference.py ../shared/data/ztf/*.tar.gz \
        > tests/data/expected/replay_accept_all.jsonl

One public channel (access ZTF, ZTF_PUB) whose DecentFilter uses the
`accept_all` config of decent_configs.json, replayed file by file in archive
order, as AMPEL ingests with its ZTF muxer: an accepted alert's datapoints
join those its stock already has in the archive (a datapoint keeps the body
it was first stored with; an upper limit shared with other stocks is the
same datapoint for each of them), the state is every point of the stock the
channel may see, sorted by id (T1Compiler, sort=True), and its
T2LightCurveSummary (default config) is computed on those datapoints in that
order (T2Worker). One line per distinct (stock, link) state:
{"set", "stock", "link", "dps", "body", "config", "conf", "tag"}.
"""
import json
import sys
import tarfile
from pathlib import Path
from struct import pack

import fastavro
import xxhash

from ampel.log.AmpelLogger import AmpelLogger
from ampel.util.hash import build_unsafe_dict_id
from ampel.view.LightCurve import LightCurve
from ampel.ztf.alert.ZiAlertSupplier import ZiAlertSupplier
from ampel.ztf.ingest.ZiDataPointShaper import ZiDataPointShaperBase
from ampel.ztf.t0.DecentFilter import DecentFilter
from ampel.ztf.t2.T2LightCurveSummary import T2LightCurveSummary

CONFIG = json.load(open(Path(__file__).with_name("decent_configs.json")))["accept_all"]


def link(ids):
    i = xxhash.xxh32_intdigest(pack(f">{len(ids)}q", *sorted(ids)), 0)
    return i - 2**32 if i & (1 << 31) else i


def main():
    logger = AmpelLogger.get_logger()
    decent = DecentFilter(logger=logger, **CONFIG)
    decent.post_init()
    shaper = ZiDataPointShaperBase()
    unit = T2LightCurveSummary(logger=logger)
    # ProcessMorpher.hash_t2_config: the id of the validated config, defaults
    # filled in; the tags are ZiCompilerOptions' for t1 and state T2s.
    conf = T2LightCurveSummary.validate({})
    conf_id = build_unsafe_dict_id(conf)
    for path in sys.argv[1:]:
        name = Path(path).name.removesuffix(".tar.gz")
        archive = {}  # datapoint id -> datapoint, bodies as first stored
        members = {}  # stock -> ids of its datapoints
        seen = set()
        with tarfile.open(path) as tar:
            for member in tar:
                if not member.isfile() or not member.name.endswith(".avro"):
                    continue
                rec = next(fastavro.reader(tar.extractfile(member)))
                alert = ZiAlertSupplier.shape_alert_dict(rec)
                if not decent.process(alert):
                    continue
                dps = shaper.process([dict(d) for d in alert.datapoints], alert.stock)
                for d in dps:
                    archive.setdefault(d["id"], d)
                    members.setdefault(alert.stock, set()).add(d["id"])
                public = sorted(
                    (archive[i] for i in members[alert.stock] if "ZTF_PUB" in archive[i]["tag"]),
                    key=lambda d: d["id"],
                )
                if not public:
                    continue
                ids = [d["id"] for d in public]
                key = (alert.stock, link(ids))
                if key in seen:
                    continue
                seen.add(key)
                t1 = {"link": key[1], "stock": alert.stock, "dps": ids}
                body = unit.process(LightCurve.build(t1, public))
                print(json.dumps({"set": name, "stock": alert.stock, "link": key[1],
                                  "dps": ids, "body": body, "config": conf_id, "conf": conf,
                                  "tag": ["ZTF"]}))


if __name__ == "__main__":
    main()
