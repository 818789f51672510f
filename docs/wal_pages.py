"""Which tables the pages in an embedded archive's WAL belong to.

Usage: copy a running archive's `night.sqlite-wal` and then `night.sqlite`
side by side (the log first), then `python3 docs/wal_pages.py COPY.sqlite`.
Prints the valid frames (those with the log header's salts), the commits
among them and, per table or index, how many frames it had. Needs an
SQLite with the dbstat table (Debian's python3 has it).
"""
import struct, sys, sqlite3, collections
db = sys.argv[1]
w = open(db + '-wal', 'rb').read()
magic, ver, psz, ckseq, s1, s2, c1, c2 = struct.unpack('>8I', w[:32])
pages = []
off = 32
while off + 24 + psz <= len(w):
    pg, commit, fs1, fs2, k1, k2 = struct.unpack('>6I', w[off:off+24])
    if (fs1, fs2) != (s1, s2):
        break
    pages.append((pg, commit))
    off += 24 + psz
commits = sum(1 for p, c in pages if c)
print('frames', len(pages), 'commits', commits, 'distinct', len(set(p for p, _ in pages)))
c = sqlite3.connect(db)
m = {}
for name, pageno in c.execute('select name, pageno from dbstat'):
    m[pageno] = name
cnt = collections.Counter(m.get(p, '?') for p, _ in pages)
sizes = collections.Counter(m.values())
for k, v in cnt.most_common():
    print(f'{k:20s} frames {v:7d} {100*v/len(pages):5.1f}%  table pages {sizes.get(k,0)}')
