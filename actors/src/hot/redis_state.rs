//! Hot state in Redis: one key per processed alert,
//! `ampel:<namespace>:seen:<alert id>`, expiring after a week (longer than
//! any redelivery window), and one hash per recently updated stock,
//! `ampel:<namespace>:stock:<id>` (fields `c:<channel>` and `d:<datapoint
//! id>` = its tags as JSON), merged by HSET, so processes sharing the
//! stock only ever add to it. A memo that could not be written is deleted
//! at the next successful call, so a memo never claims less than the
//! archive holds. The connection is reopened on the next call
//! after any failure, so a Redis restart costs only the calls made while it
//! was down (they report an error; the pipeline then skips de-duplication,
//! never data).

use ampel::hot::{HotError, HotState, StockMemo};
use redis::{Client, Connection};

const TTL_SECONDS: u64 = 7 * 24 * 3600;

pub struct RedisHotState {
    client: Client,
    conn: Option<Connection>,
    prefix: String,
    stock_prefix: String,
    /// Stocks whose memo update failed: deleted before anything else.
    stale: std::collections::BTreeSet<i64>,
    location: String,
}

impl RedisHotState {
    pub fn connect(url: &str, namespace: &str) -> Result<Self, HotError> {
        let location = url.rsplit('@').next().unwrap_or(url).to_string();
        let client = Client::open(url).map_err(|e| HotError {
            location: location.clone(),
            reason: e.to_string(),
        })?;
        let mut me = RedisHotState {
            client,
            conn: None,
            prefix: format!("ampel:{namespace}:seen:"),
            stock_prefix: format!("ampel:{namespace}:stock:"),
            stale: Default::default(),
            location,
        };
        me.conn()?;
        Ok(me)
    }

    fn err(&self, e: impl std::fmt::Display) -> HotError {
        HotError {
            location: self.location.clone(),
            reason: e.to_string(),
        }
    }

    fn conn(&mut self) -> Result<&mut Connection, HotError> {
        if self.conn.is_none() {
            let c = self
                .client
                .get_connection_with_timeout(std::time::Duration::from_secs(2))
                .map_err(|e| self.err(e))?;
            self.conn = Some(c);
        }
        Ok(self.conn.as_mut().expect("just set"))
    }

    /// Runs `f` on the connection; a failure drops it, to reconnect next time.
    fn with<T>(
        &mut self,
        f: impl FnOnce(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T, HotError> {
        if !self.stale.is_empty() {
            let keys: Vec<String> = self
                .stale
                .iter()
                .map(|s| format!("{}{s}", self.stock_prefix))
                .collect();
            let r: redis::RedisResult<()> = redis::cmd("DEL").arg(&keys).query(self.conn()?);
            match r {
                Ok(()) => self.stale.clear(),
                Err(e) => {
                    self.conn = None;
                    return Err(self.err(e));
                }
            }
        }
        let r = f(self.conn()?);
        r.map_err(|e| {
            self.conn = None;
            self.err(e)
        })
    }
}

impl HotState for RedisHotState {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn another(&self) -> Option<Box<dyn HotState>> {
        // Connects on first use, as after a failure.
        Some(Box::new(RedisHotState {
            client: self.client.clone(),
            conn: None,
            prefix: self.prefix.clone(),
            stock_prefix: self.stock_prefix.clone(),
            stale: Default::default(),
            location: self.location.clone(),
        }))
    }

    fn seen(&mut self, ids: &[i64]) -> Result<Vec<bool>, HotError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|i| format!("{}{i}", self.prefix)).collect();
        self.with(|c| {
            let mut p = redis::pipe();
            for k in &keys {
                p.exists(k);
            }
            p.query(c)
        })
    }

    fn mark_seen(&mut self, ids: &[i64]) -> Result<(), HotError> {
        if ids.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = ids.iter().map(|i| format!("{}{i}", self.prefix)).collect();
        self.with(|c| {
            let mut p = redis::pipe();
            for k in &keys {
                p.set_ex(k, 1, TTL_SECONDS).ignore();
            }
            p.query::<()>(c)
        })
    }

    fn stock_memos(&mut self, stocks: &[i64]) -> Result<Vec<Option<StockMemo>>, HotError> {
        if stocks.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = stocks
            .iter()
            .map(|s| format!("{}{s}", self.stock_prefix))
            .collect();
        let hashes: Vec<Vec<(String, String)>> = self.with(|c| {
            let mut p = redis::pipe();
            for k in &keys {
                p.hgetall(k);
            }
            p.query(c)
        })?;
        Ok(hashes
            .into_iter()
            .map(|fields| {
                if fields.is_empty() {
                    return None;
                }
                let mut m = StockMemo::default();
                for (k, v) in fields {
                    if let Some(ch) = k.strip_prefix("c:") {
                        m.channels.push(ch.to_string());
                    } else if let Some(id) = k.strip_prefix("d:") {
                        let tags: Vec<String> = serde_json::from_str(&v).ok()?;
                        m.datapoints.push((id.parse().ok()?, tags));
                    }
                }
                m.channels.sort();
                m.datapoints.sort();
                Some(m)
            })
            .collect())
    }

    fn remember_stocks(&mut self, memos: &[(i64, StockMemo)]) -> Result<(), HotError> {
        if memos.is_empty() {
            return Ok(());
        }
        let prefix = self.stock_prefix.clone();
        let r = self.with(|c| {
            let mut p = redis::pipe();
            for (s, m) in memos {
                let key = format!("{prefix}{s}");
                let mut fields: Vec<(String, String)> = m
                    .channels
                    .iter()
                    .map(|ch| (format!("c:{ch}"), "1".to_string()))
                    .collect();
                fields.extend(m.datapoints.iter().map(|(id, tags)| {
                    (
                        format!("d:{id}"),
                        serde_json::to_string(tags).unwrap_or_default(),
                    )
                }));
                if fields.is_empty() {
                    continue;
                }
                p.hset_multiple(&key, &fields).ignore();
                p.expire(&key, TTL_SECONDS as i64).ignore();
            }
            p.query::<()>(c)
        });
        if r.is_err() {
            self.stale.extend(memos.iter().map(|(s, _)| *s));
        }
        r
    }
}
