//! Hot state in Redis: one key per processed alert,
//! `ampel:<namespace>:seen:<alert id>`, expiring after a week (longer than
//! any redelivery window). The connection is reopened on the next call
//! after any failure, so a Redis restart costs only the calls made while it
//! was down (they report an error; the pipeline then skips de-duplication,
//! never data).

use ampel::hot::{HotError, HotState};
use redis::{Client, Connection};

const TTL_SECONDS: u64 = 7 * 24 * 3600;

pub struct RedisHotState {
    client: Client,
    conn: Option<Connection>,
    prefix: String,
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
}
