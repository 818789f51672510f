"""Python AMPEL's full pipeline against `ampel run`: the same alerts into the
same MongoDB-wire server (SecantusDB), one after the other.

    ~/.cache/ampel-test/ampelpy/bin/python docs/bench_python_ampel.py \
        [--alerts ../shared/data/ztf/ztf_public_20231018_v4.02.tar.gz] \
        [--ampel target/release/ampel] [--mongo mongodb://HOST:PORT] [--runs 3]

The venv needs `ampel-ztf==0.10.3a9 ampel-core==0.10.6a28 SecantusDB==0.7.0b3`
(ampel-ztf 0.10.2's ZiMongoMuxer fails with "no attribute 'updates_buffer'").
Without --mongo a SecantusDB (in memory) is started for the run.

Python AMPEL: an AlertConsumer (ZiAlertSupplier over a TarAlertLoader,
DecentFilter with AMPEL's standard ZTF settings, ZiDataPointShaper,
ZiMongoMuxer + ZiT1Combiner, T2LightCurveSummary tickets on each state),
then a T2Worker until no ticket is left. Rust: `ampel run` on a job with the
same channel into a fresh database of the same server. Each side's time is
wall time from start to the last T2 result; the documents each stored are
counted and printed beside the times.
"""
import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

DECENT = {
    "min_ndet": 1, "min_tspan": 0, "max_tspan": 10000, "min_rb": 0.3,
    "max_fwhm": 5.5, "max_elong": 1.4, "max_magdiff": 1, "max_nbad": 2,
    "min_sso_dist": 20, "min_gal_lat": 7, "ps1_sgveto_rad": 1,
    "ps1_sgveto_th": 0.8, "ps1_confusion_rad": 3, "ps1_confusion_sg_tol": 0.1,
    "gaia_rs": 0, "gaia_pm_signif": 3, "gaia_plx_signif": 3,
    "gaia_veto_gmag_min": 9, "gaia_veto_gmag_max": 20,
    "gaia_excessnoise_sig_max": 999,
}
CHANNEL = "BENCH_DECENT"


def start_secantus():
    exe = os.path.join(os.path.dirname(sys.executable), "secantusd-py")
    p = subprocess.Popen(
        [exe, "--host", "127.0.0.1", "--port", "0", "--storage-path", ":memory:"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t = time.time()
    for line in p.stdout:
        m = re.search(r"listening on (\S+):(\d+)", line)
        if m:
            return p, f"mongodb://{m.group(1)}:{m.group(2)}"
        if time.time() - t > 60:
            break
    p.kill()
    sys.exit("secantusd-py did not say where it listens")


def ampel_config(cache):
    """AMPEL's configuration, built once (it imports every installed unit)."""
    path = os.path.join(cache, "ampel_conf.yaml")
    if not os.path.exists(path):
        exe = os.path.join(os.path.dirname(sys.executable), "ampel")
        subprocess.run(
            [exe, "config", "build", "-out", path, "-ignore-exceptions",
             "ImportError", "ModuleNotFoundError"],
            check=True, cwd=cache, stdout=subprocess.DEVNULL)
    return path


def python_ampel(conf, uri, alerts):
    from ampel.alert.AlertConsumer import AlertConsumer
    from ampel.dev.DevAmpelContext import DevAmpelContext
    from ampel.t2.T2Worker import T2Worker

    t = time.perf_counter()
    ctx = DevAmpelContext.load(
        config=conf, db_prefix="pyampel", purge_db=True,
        custom_conf={"resource.mongo": uri})
    ctx.add_channel(CHANNEL, access=["ZTF", "ZTF_PUB"])
    setup = time.perf_counter() - t
    t = time.perf_counter()
    ac = AlertConsumer(
        context=ctx, process_name="bench_t0", raise_exc=True,
        iter_max=10**9,
        shaper="ZiDataPointShaper",
        compiler_opts="ZiCompilerOptions",
        supplier={
            "unit": "ZiAlertSupplier",
            "config": {"loader": {"unit": "TarAlertLoader",
                                  "config": {"file_path": alerts}}},
        },
        directives=[{
            "channel": CHANNEL,
            "filter": {"unit": "DecentFilter", "config": DECENT,
                       "on_stock_match": "bypass"},
            "ingest": {"mux": {
                "unit": "ZiMongoMuxer",
                "combine": [{"unit": "ZiT1Combiner",
                             "state_t2": [{"unit": "T2LightCurveSummary"}]}],
            }},
        }],
    )
    n = ac.run()
    t0 = time.perf_counter() - t
    t = time.perf_counter()
    T2Worker(context=ctx, process_name="bench_t2",
             raise_exc=True, run_dependent_t2s=True).run()
    t2 = time.perf_counter() - t
    db = ctx.db
    counts = {
        "t0": db.get_collection("t0").count_documents({}),
        "t1": db.get_collection("t1").count_documents({}),
        "t2": db.get_collection("t2").count_documents({}),
        "t2_ok": db.get_collection("t2").count_documents({"code": 0}),
        "stock": db.get_collection("stock").count_documents({}),
    }
    return {"alerts": n, "setup": setup, "t0": t0, "t2": t2,
            "seconds": t0 + t2, "counts": counts}


def rust_ampel(ampel, uri, alerts, tmp):
    job = os.path.join(tmp, "job.yml")
    decent = "\n".join(f"        {k}: {v}" for k, v in DECENT.items())
    with open(job, "w") as f:
        f.write(f"""name: bench-python-side-by-side
source:
  paths: [{alerts}]
channels:
  - channel: {CHANNEL}
    access: [ZTF, ZTF_PUB]
    t0_filter:
      unit: DecentFilter
      config:
{decent}
    t2_compute:
      - unit: T2LightCurveSummary
""")
    db = f"rust_bench_{os.getpid()}_{int(time.time() * 1000)}"
    t = time.perf_counter()
    out = subprocess.run(
        [ampel, "run", "--job", job, "--store", f"{uri}/{db}"],
        check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    import json
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    from pymongo import MongoClient
    c = MongoClient(uri)[db]
    counts = {
        "t0": c["t0"].count_documents({}),
        "t1": c["t1"].count_documents({}),
        "t2": c["t2"].count_documents({}),
        "t2_ok": c["t2"].count_documents({"code": 0}),
        "stock": c["stock"].count_documents({}),
    }
    return {"alerts": summary.get("alerts"), "seconds": wall,
            "run_seconds": summary.get("seconds"), "counts": counts}


def main():
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--alerts", default=os.path.join(
        ROOT, "..", "shared", "data", "ztf", "ztf_public_20231018_v4.02.tar.gz"))
    a.add_argument("--ampel", default=os.path.join(ROOT, "target", "release", "ampel"))
    a.add_argument("--mongo", help="a MongoDB-wire server (default: a SecantusDB started here)")
    a.add_argument("--runs", type=int, default=3)
    args = a.parse_args()
    alerts = os.path.abspath(args.alerts)
    if not os.path.exists(args.ampel):
        sys.exit(f"{args.ampel}: build it first (cargo build --release)")
    server, uri = (None, args.mongo) if args.mongo else start_secantus()
    cache = os.path.join(os.path.expanduser("~"), ".cache", "ampel-test", "ampelpy-conf")
    os.makedirs(cache, exist_ok=True)
    conf = ampel_config(cache)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"alerts: {alerts}\nserver: {uri}\n")
            # Python's time excludes its setup (context, database, indexes);
            # `ampel run`'s wall time includes its own (process start,
            # connection, indexes, run record): its run alone, from the run
            # record's start to its end, is the like-for-like figure.
            print("| run | Python AMPEL (T0 + T2) | ampel run (wall) | ratio | ampel run (run alone) | ratio | documents (t0/t1/t2 OK/stock) |")
            print("|---|---|---|---|---|---|---|")
            # AMPEL logs each accepted alert on stdout: kept apart, in a
            # file left open (its console keeps the stream it first saw).
            log = open(os.path.join(tmp, "python_ampel.log"), "a")
            for i in range(args.runs):
                with contextlib.redirect_stdout(log):
                    py = python_ampel(conf, uri, alerts)
                rs = rust_ampel(args.ampel, uri, alerts, tmp)
                pc, rc = py["counts"], rs["counts"]
                docs = (f"Python {pc['t0']}/{pc['t1']}/{pc['t2_ok']}/{pc['stock']}, "
                        f"Rust {rc['t0']}/{rc['t1']}/{rc['t2_ok']}/{rc['stock']}")
                run = rs["run_seconds"] or rs["seconds"]
                print(f"| {i + 1} | {py['seconds']:.2f} s (T0 {py['t0']:.2f} + T2 {py['t2']:.2f}) "
                      f"| {rs['seconds']:.2f} s | {py['seconds'] / rs['seconds']:.1f}x "
                      f"| {run:.2f} s | {py['seconds'] / run:.1f}x | {docs} |",
                      flush=True)
    finally:
        if server:
            server.kill()


if __name__ == "__main__":
    main()
