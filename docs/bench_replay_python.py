"""Python AMPEL's T0 loop against `ampel bench replay`, side by side in one
run, on the same alerts.

    ~/.cache/ampel-test/ampelpy/bin/python docs/bench_replay_python.py \
        [--alerts FILE.tar[.gz]] [--night 10000] [--ampel target/release/ampel] [--runs 3]

The venv needs `ampel-ztf==0.10.3a9 ampel-core==0.10.6a28 fastavro` (the
same venv as docs/bench_python_ampel.py). Without --alerts, a night of
--night alerts is made with `ampel bench night` (real v4.02 measurements,
recurring objects, shared upper limits, no cutouts, ZTF only: Python
AMPEL's ZTF loop cannot read Rubin packets) into a temporary directory.

Python AMPEL's T0 loop: every packet read into memory first, then per
alert fastavro's reader, `ZiAlertSupplier.shape_alert_dict` and
`DecentFilter.process` (AMPEL's standard ZTF settings), no storage. That is
the loop the issue's ratios are against. Rust: `ampel bench replay` (the
packets read into memory first too, then T0..T3 with every write into a
fresh embedded archive) for two jobs: the standard DecentFilter channel and
one whose DecentFilter accepts every alert it can, each with
T2LightCurveSummary and T2TemplateMatch. Prints each figure, the ratios,
and the best of --runs for each side.
"""
import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONFIGS = json.load(open(os.path.join(ROOT, "tests", "reference", "decent_configs.json")))
sys.path.insert(0, HERE)
# The standard channel's settings, as bench_python_ampel.py runs them.
from bench_python_ampel import DECENT as STANDARD  # noqa: E402


def packets(path):
    out = []
    with tarfile.open(path) as tar:
        for m in tar:
            if m.isfile() and m.name.endswith(".avro"):
                out.append(tar.extractfile(m).read())
    return out


def python_t0(data):
    import fastavro
    from ampel.log.AmpelLogger import AmpelLogger
    from ampel.ztf.alert.ZiAlertSupplier import ZiAlertSupplier
    from ampel.ztf.t0.DecentFilter import DecentFilter

    f = DecentFilter(logger=AmpelLogger.get_logger(), **STANDARD)
    f.post_init()
    t = time.perf_counter()
    accepted = 0
    for p in data:
        rec = next(fastavro.reader(io.BytesIO(p)))
        alert = ZiAlertSupplier.shape_alert_dict(rec)
        accepted += bool(f.process(alert))
    return len(data) / (time.perf_counter() - t), accepted


def job(path, name, config, dir):
    text = (
        f"name: {name}\nsource: {{paths: [{path}]}}\nchannels:\n"
        f"  - channel: BENCH\n    access: [ZTF, ZTF_PUB]\n"
        f"    t0_filter: {{unit: DecentFilter, config: {json.dumps(config)}}}\n"
        f"    t2_compute: [{{unit: T2LightCurveSummary}}, {{unit: T2TemplateMatch}}]\n"
    )
    p = os.path.join(dir, f"{name}.yml")
    with open(p, "w") as f:
        f.write(text)
    return p


def rust(ampel, job_file):
    out = subprocess.run([ampel, "bench", "replay", "--job", job_file],
                         capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return r["alerts_per_s"], sum(r["accepted"].values()), r["t2_runs"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alerts", help="a tar or tar.gz of ZTF alert packets")
    ap.add_argument("--night", type=int, default=10000, help="alerts of the night made without --alerts")
    ap.add_argument("--ampel", default=os.path.join(ROOT, "target", "release", "ampel"))
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = a.alerts
        if path is None:
            subprocess.run([a.ampel, "bench", "night", "--alerts", str(a.night), "--slices", "1",
                            "--rubin-share", "0",
                            "--dir", tmp, "--job", os.path.join(ROOT, "config", "bench", "night.yml")],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            path = os.path.join(tmp, "night-00.tar")
        path = os.path.abspath(path)
        data = packets(path)
        jobs = {
            "standard": job(path, "standard", STANDARD, tmp),
            "accept-all": job(path, "accept_all", CONFIGS["accept_all"], tmp),
        }
        best = {"python": (0, 0), "standard": (0, 0, 0), "accept-all": (0, 0, 0)}
        for run in range(a.runs):
            py = python_t0(data)
            best["python"] = max(best["python"], py)
            line = [f"run {run + 1}: Python T0 loop {py[0]:,.0f} alerts/s ({py[1]} accepted)"]
            for name, j in jobs.items():
                r = rust(a.ampel, j)
                best[name] = max(best[name], r)
                line.append(f"{name} replay {r[0]:,.0f} alerts/s ({r[0] / py[0]:.1f}x; {r[1]} accepted, {r[2]} T2 runs)")
            print("; ".join(line), flush=True)
        py = best["python"][0]
        print(json.dumps({
            "alerts": len(data), "input": path,
            "python_t0_loop_alerts_per_s": round(py),
            "standard_replay_alerts_per_s": round(best["standard"][0]),
            "standard_ratio": round(best["standard"][0] / py, 2),
            "accept_all_replay_alerts_per_s": round(best["accept-all"][0]),
            "accept_all_ratio": round(best["accept-all"][0] / py, 2),
        }))


if __name__ == "__main__":
    sys.exit(main())
