//! The T2 queue on Redis Streams, shared by every `ampel run` and `ampel
//! worker t2` process of a job: one stream per unit
//! (`ampel:<job>:t2:<unit>`), one consumer group `t2`. Workers read with
//! XREADGROUP, acknowledge with XACK (and XDEL, so XLEN is the depth), and
//! take over entries another worker has held longer than the reclaim time
//! with XAUTOCLAIM (that worker is presumed dead; the archive's claim lets
//! the new one run a document its predecessor left RUNNING). A Redis
//! restart loses the queue, not the work: the workers re-queue the
//! archive's runnable documents when the queue is empty.

use ampel::hot::{HotError, QueuedT2, T2Queue};
use ampel::store::T2Key;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use redis::{Client, Connection, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const GROUP: &str = "t2";

pub struct RedisT2Queue {
    client: Client,
    conn: Option<Connection>,
    /// (unit, stream key)
    streams: Vec<(String, String)>,
    consumer: String,
    reclaim_after: Duration,
    last_reclaim: Instant,
    location: String,
}

static CONSUMERS: AtomicU64 = AtomicU64::new(0);

impl RedisT2Queue {
    pub fn connect(
        url: &str,
        job: &str,
        units: &[String],
        reclaim_after: Duration,
    ) -> Result<Self, HotError> {
        let location = url.rsplit('@').next().unwrap_or(url).to_string();
        let client = Client::open(url).map_err(|e| HotError {
            location: location.clone(),
            reason: e.to_string(),
        })?;
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "host".into());
        let mut q = RedisT2Queue {
            client,
            conn: None,
            streams: units
                .iter()
                .map(|u| (u.clone(), format!("ampel:{job}:t2:{u}")))
                .collect(),
            consumer: format!(
                "{host}-{}-{}",
                std::process::id(),
                CONSUMERS.fetch_add(1, Ordering::SeqCst)
            ),
            reclaim_after,
            last_reclaim: Instant::now(),
            location,
        };
        q.with(|_, _| Ok(()))?;
        Ok(q)
    }

    fn err(&self, e: impl std::fmt::Display) -> HotError {
        HotError {
            location: self.location.clone(),
            reason: e.to_string(),
        }
    }

    /// Runs `f` on the connection (opened, with the groups created, when
    /// missing); a failure drops it, to reconnect next time.
    fn with<T>(
        &mut self,
        f: impl FnOnce(&mut Connection, &[(String, String)]) -> redis::RedisResult<T>,
    ) -> Result<T, HotError> {
        if self.conn.is_none() {
            let mut c = self
                .client
                .get_connection_with_timeout(Duration::from_secs(2))
                .map_err(|e| self.err(e))?;
            ensure_groups(&mut c, &self.streams).map_err(|e| self.err(e))?;
            self.conn = Some(c);
        }
        let r = f(self.conn.as_mut().expect("just set"), &self.streams);
        r.map_err(|e| {
            // NOGROUP after a Redis restart, or a broken connection: start
            // over with a fresh connection and groups.
            self.conn = None;
            self.err(e)
        })
    }
}

fn ensure_groups(c: &mut Connection, streams: &[(String, String)]) -> redis::RedisResult<()> {
    for (_, s) in streams {
        let r: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(s)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query(c);
        match r {
            Ok(()) => {}
            Err(e) if e.code() == Some("BUSYGROUP") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn entry(id: StreamId, reclaimed: bool) -> Option<QueuedT2> {
    let text = |k: &str| match id.map.get(k) {
        Some(Value::BulkString(b)) => String::from_utf8(b.clone()).ok(),
        Some(Value::SimpleString(s)) => Some(s.clone()),
        _ => None,
    };
    let key: T2Key = serde_json::from_str(&text("k")?).ok()?;
    let since = text("s").and_then(|s| s.parse().ok());
    Some(QueuedT2 {
        entry: id.id,
        key,
        since,
        reclaimed,
    })
}

impl T2Queue for RedisT2Queue {
    fn push(&mut self, items: &[(T2Key, Option<f64>)]) -> Result<(), HotError> {
        if items.is_empty() {
            return Ok(());
        }
        self.with(|c, streams| {
            let mut p = redis::pipe();
            for (k, since) in items {
                let Some((_, s)) = streams.iter().find(|(u, _)| *u == k.unit) else {
                    continue;
                };
                let key = serde_json::to_string(k).unwrap_or_default();
                let since = since.map(|t| t.to_string()).unwrap_or_default();
                p.cmd("XADD")
                    .arg(s)
                    .arg("*")
                    .arg("k")
                    .arg(key)
                    .arg("s")
                    .arg(since)
                    .ignore();
            }
            p.query::<()>(c)
        })
    }

    fn pop(&mut self, max: usize, wait: Duration) -> Result<Vec<QueuedT2>, HotError> {
        let consumer = self.consumer.clone();
        if self.last_reclaim.elapsed() >= self.reclaim_after.min(Duration::from_secs(5)) {
            self.last_reclaim = Instant::now();
            let idle_ms = self.reclaim_after.as_millis() as u64;
            let reclaimed = self.with(|c, streams| {
                let mut out = Vec::new();
                for (_, s) in streams {
                    let r: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
                        .arg(s)
                        .arg(GROUP)
                        .arg(&consumer)
                        .arg(idle_ms)
                        .arg("0-0")
                        .arg("COUNT")
                        .arg(max)
                        .query(c)?;
                    out.extend(r.claimed.into_iter().filter_map(|id| entry(id, true)));
                    if out.len() >= max {
                        break;
                    }
                }
                Ok(out)
            })?;
            if !reclaimed.is_empty() {
                tracing::info!(
                    entries = reclaimed.len(),
                    "T2 queue: took over entries of a worker presumed dead"
                );
                return Ok(reclaimed);
            }
        }
        let block = wait.as_millis().max(1) as u64;
        self.with(|c, streams| {
            let mut cmd = redis::cmd("XREADGROUP");
            cmd.arg("GROUP")
                .arg(GROUP)
                .arg(&consumer)
                .arg("COUNT")
                .arg(max)
                .arg("BLOCK")
                .arg(block)
                .arg("STREAMS");
            for (_, s) in streams {
                cmd.arg(s);
            }
            for _ in streams {
                cmd.arg(">");
            }
            let reply: Option<StreamReadReply> = cmd.query(c)?;
            Ok(reply
                .map(|r| {
                    r.keys
                        .into_iter()
                        .flat_map(|k| k.ids)
                        .filter_map(|id| entry(id, false))
                        .collect()
                })
                .unwrap_or_default())
        })
    }

    fn ack(&mut self, entries: &[QueuedT2]) -> Result<(), HotError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.with(|c, streams| {
            let mut p = redis::pipe();
            for e in entries {
                let Some((_, s)) = streams.iter().find(|(u, _)| *u == e.key.unit) else {
                    continue;
                };
                p.cmd("XACK").arg(s).arg(GROUP).arg(&e.entry).ignore();
                p.cmd("XDEL").arg(s).arg(&e.entry).ignore();
            }
            p.query::<()>(c)
        })
    }

    fn depth(&mut self) -> Result<BTreeMap<String, u64>, HotError> {
        self.with(|c, streams| {
            let mut p = redis::pipe();
            for (_, s) in streams {
                p.cmd("XLEN").arg(s);
            }
            let n: Vec<u64> = p.query(c)?;
            Ok(streams
                .iter()
                .zip(n)
                .filter(|(_, n)| *n > 0)
                .map(|((u, _), n)| (u.clone(), n))
                .collect())
        })
    }
}
