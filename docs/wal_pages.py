"""Which tables and indexes the pages an embedded archive's commits write
belong to.

    python3 docs/wal_pages.py COPY.sqlite
    python3 docs/wal_pages.py --night 200000 [--ampel target/release/ampel]

The first form reads a copy of a running archive's `night.sqlite-wal` and
then `night.sqlite`, side by side (the log copied first): the frames the
log holds at that moment. Reading the copy folds its log into it (SQLite
does so when its last connection closes), so each copy is read once.

The second runs `ampel bench night --alerts N` (from the repository root,
for its job's relative paths) with every frame of the night kept: no
checkpoints (AMPEL_SQLITE_CHECKPOINT_PAGES set past any log), and a read
transaction held from the archive's first commit to the end, so that
SQLite never rewinds the log nor deletes it at close. The log then holds
each page once per commit that changed it, which is what the archive
writes twice (to the log, and into the file by a checkpoint). Prints the
frames per alert for each table or index, over the whole night and over
its first and last tenth of frames, so that what grows with the archive
shows. Needs disk for the log (21-25 kB per alert) and an SQLite with
the dbstat table (Debian's python3 has it). Replay speed in this mode is
not the night's: the log is never copied back.
"""
import argparse
import collections
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time


def frames(wal_path):
    """The log's valid frames (those with its header's salts) as page
    numbers, and the commits among them."""
    pages, commits = [], 0
    size = os.path.getsize(wal_path)
    with open(wal_path, 'rb') as f:
        header = f.read(32)
        _, _, psz, _, s1, s2, _, _ = struct.unpack('>8I', header)
        # A copy taken mid-write may end in a partial frame: not counted.
        while f.tell() + 24 + psz <= size:
            h = f.read(24)
            pg, commit, fs1, fs2 = struct.unpack('>4I', h[:16])
            if (fs1, fs2) != (s1, s2):
                break
            pages.append(pg)
            commits += bool(commit)
            f.seek(psz, 1)
    return pages, commits


def owners(db):
    """Page number -> the table or index it belongs to."""
    c = sqlite3.connect(db)
    return {pageno: name for name, pageno in c.execute('SELECT name, pageno FROM dbstat')}


def report(pages, commits, owner, alerts=None):
    n = len(pages)
    print(f'frames {n}, commits {commits}, distinct pages {len(set(pages))}')
    count = lambda part: collections.Counter(owner.get(p, '?') for p in part)
    whole, first, last = count(pages), count(pages[: n // 10]), count(pages[n - n // 10:])
    per = (lambda v: f'{v / alerts:8.3f}') if alerts else (lambda v: f'{v:8d}')
    unit = 'frames per alert' if alerts else 'frames'
    print(f'{"table or index":32s} {unit:>18s}   share   first 10%   last 10%')
    for name, v in whole.most_common():
        print(f'{name:32s} {per(v):>18s} {100 * v / n:6.1f}% {first[name]:10d} {last[name]:10d}')


def night(alerts, ampel):
    work = tempfile.mkdtemp(prefix='wal-pages-')
    db = os.path.join(work, 'night.sqlite')
    stop = threading.Event()
    held = {}

    def hold():
        # Waits for the archive's log, then holds a read transaction on it.
        while not os.path.exists(db + '-wal') and not stop.is_set():
            time.sleep(0.05)
        if stop.is_set():
            return
        time.sleep(0.2)
        c = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        c.execute('BEGIN')
        c.execute('SELECT count(*) FROM sqlite_master').fetchone()
        held['conn'] = c

    t = threading.Thread(target=hold)
    t.start()
    env = dict(os.environ, AMPEL_SQLITE_CHECKPOINT_PAGES=str(10**12))
    cmd = [ampel, 'bench', 'night', '--alerts', str(alerts), '--dir', work, '--keep']
    out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    stop.set()
    t.join()
    if out.returncode != 0 or 'conn' not in held:
        sys.exit(f'{" ".join(cmd)} failed (exit {out.returncode}); files left in {work}')
    try:
        pages, commits = frames(db + '-wal')
        held['conn'].execute('COMMIT')
        held['conn'].close()  # the last connection: folds the log into the file
        report(pages, commits, owners(db), alerts)
    finally:
        shutil.rmtree(work)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('copy', nargs='?', help='a copy of an archive, its -wal beside it')
    ap.add_argument('--night', type=int, help='alerts of a night to run with every frame kept')
    ap.add_argument('--ampel', default='target/release/ampel')
    a = ap.parse_args()
    if a.night:
        night(a.night, a.ampel)
    elif a.copy:
        pages, commits = frames(a.copy + '-wal')
        report(pages, commits, owners(a.copy))
    else:
        ap.error('give a copy of an archive or --night N')


if __name__ == '__main__':
    main()
