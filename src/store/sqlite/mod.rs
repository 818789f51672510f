//! The embedded archive: one SQLite file (WAL journal, full sync), each
//! collection a table of JSON documents with its key columns indexed. Every
//! [`Archive::write`] batch is one transaction, so a crash leaves either all
//! of a batch or none of it.

use super::*;
mod checkpoint;
mod claims;
mod gate;
mod members;
mod open;
mod schema;
mod write;
use write::{apply, put_reaction};
#[cfg(test)]
mod plans;
use gate::immediate;
use rusqlite::{params, Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A stock's datapoints, by id.
const STOCK_DATAPOINTS: &str =
    "SELECT t0.doc FROM t0_member m JOIN t0 ON t0.id = m.id WHERE m.stock = ?1 ORDER BY m.id";

/// Datapoints by id (a JSON list, ?1), each found through `t0`'s id index.
const DATAPOINTS_AMONG: &str =
    "SELECT doc FROM t0 WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id";

/// T2 documents per code, for a run's summary.
const T2_CODES: &str = "SELECT code, COUNT(*) FROM t2 GROUP BY code";

/// When the T3 process ?1 last selected, along its expression index.
const T3_LAST_SELECTED: &str = "SELECT max(json_extract(doc, '$.meta.extra.selected_at')) FROM t3
     WHERE json_extract(doc, '$.process') = ?1";

/// A channel's (?1) stocks updated in [?2, ?3], read along the time index.
const CHANNEL_STOCKS_UPDATED: &str = "SELECT s.doc FROM stock s INDEXED BY stock_updated
     WHERE s.updated >= ?2 AND s.updated <= ?3
     AND EXISTS (SELECT 1 FROM stock_channel c WHERE c.channel = ?1 AND c.stock = s.stock)
     ORDER BY s.stock";

/// The SQL condition for a [`T2Query`] (channel aside) and its arguments:
/// only the conditions given are written, since `?n IS NULL OR ...` keeps
/// SQLite from using an index (a read by stock then scanned every T2
/// document of the archive).
fn t2_where(q: &T2Query) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    where_eq(vec![
        ("stock", q.stock.map(Value::Integer)),
        ("unit", q.unit.clone().map(Value::Text)),
        ("code", q.code.map(Value::Integer)),
        ("config", q.config.map(Value::Integer)),
    ])
}

/// ` WHERE a = ?1 AND ...` over the columns given a value (empty if none),
/// and the values in order.
fn where_eq(
    columns: Vec<(&str, Option<rusqlite::types::Value>)>,
) -> (String, Vec<rusqlite::types::Value>) {
    let mut cond = Vec::new();
    let mut args = Vec::new();
    for (column, v) in columns {
        if let Some(v) = v {
            args.push(v);
            cond.push(format!("{column} = ?{}", args.len()));
        }
    }
    let filter = if cond.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", cond.join(" AND "))
    };
    (filter, args)
}

/// Maps a backend error to a `StoreError` naming the archive file. A free
/// function over the path, so it can be used while `conn` is borrowed.
/// BUSY and LOCKED (another process holds the write lock past the busy
/// timeout) are transient; everything else fails the same way again.
fn backend(path: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| StoreError::Backend {
        location: path.to_string(),
        transient: matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        ),
        reason: e.to_string(),
    }
}

/// The embedded archive.
pub struct SqliteArchive {
    /// Declared before `conn`, so it stops (and closes its connection)
    /// before the writer's own close folds the log into the file.
    _checkpointer: Option<checkpoint::Checkpointer>,
    conn: Connection,
    /// Shared by this handle and those [`Archive::another`] opened from
    /// it: their write transactions take turns here (see [`immediate`]).
    gate: Arc<Mutex<()>>,
    path: String,
    /// Whether the file has the `cutout` table: an archive written before
    /// it existed and opened read-only has none (and no stamps).
    cutouts: bool,
    /// Whether `t0_member` has its `tagset` column (see `schema.rs`): an
    /// archive written before it and opened read-only has not.
    member_tagsets: bool,
}

impl SqliteArchive {
    /// One cutout row by `sql` with the key `?1`.
    fn one_cutout(&self, sql: &str, key: i64) -> Result<Option<CutoutDoc>, StoreError> {
        if !self.cutouts {
            return Ok(None);
        }
        self.conn
            .prepare_cached(sql)
            .and_then(|mut st| {
                st.query_row([key], |r| {
                    Ok(CutoutDoc {
                        id: r.get(0)?,
                        stock: r.get(1)?,
                        jd: r.get(2)?,
                        science: r.get(3)?,
                        template: r.get(4)?,
                        difference: r.get(5)?,
                    })
                })
                .optional()
            })
            .map_err(|e| self.err(e))
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        backend(&self.path)(e)
    }

    fn parse<T: DeserializeOwned>(
        &self,
        collection: &'static str,
        text: &str,
    ) -> Result<T, StoreError> {
        parse_doc(&self.path, collection, text)
    }

    fn query_docs<T: DeserializeOwned>(
        &self,
        collection: &'static str,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<T>, StoreError> {
        self.query_parsed(collection, sql, args, |t| serde_json::from_str(t))
    }

    /// The documents a statement returns (their text in column 0), each
    /// parsed by `parse` from the row's own buffer (no copy of the text).
    fn query_parsed<T>(
        &self,
        collection: &'static str,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
        parse: impl Fn(&str) -> serde_json::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut st = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let mut rows = st.query(args).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let text = r
                .get_ref(0)
                .and_then(|v| v.as_str().map_err(Into::into))
                .map_err(|e| self.err(e))?;
            out.push(parse(text).map_err(|e| corrupt(&self.path, collection, e))?);
        }
        Ok(out)
    }
}

/// A document read back (a free function, usable while a transaction
/// borrows the connection).
fn parse_doc<T: DeserializeOwned>(
    path: &str,
    collection: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(path, collection, e))
}

/// A stored document that does not parse.
fn corrupt(path: &str, collection: &'static str, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt {
        location: path.to_string(),
        collection,
        reason: e.to_string(),
    }
}

impl Archive for SqliteArchive {
    fn location(&self) -> String {
        format!("sqlite:{}", self.path)
    }

    fn another(&self) -> Result<Option<Box<dyn Archive>>, StoreError> {
        // In-memory and temporary databases have no file to share, and a
        // read-only handle (a viewer's) gets no writing one.
        let query_only: bool = self
            .conn
            .pragma_query_value(None, "query_only", |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if self.conn.path().is_none_or(str::is_empty) || query_only {
            return Ok(None);
        }
        Ok(Some(Box::new(self.second()?)))
    }

    fn next_run_id(&mut self) -> Result<i64, StoreError> {
        let be = backend(&self.path);
        let tx = immediate(&mut self.conn, &self.gate, &self.path)?;
        let run: i64 = tx
            .query_row(
                "INSERT INTO counter(name, value) VALUES ('run', 1)
                 ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
                [],
                |r| r.get(0),
            )
            .map_err(&be)?;
        tx.commit().map_err(&be)?;
        Ok(run)
    }

    fn archive_id(&mut self) -> Result<i64, StoreError> {
        let be = backend(&self.path);
        let tx = immediate(&mut self.conn, &self.gate, &self.path)?;
        tx.execute(
            "INSERT INTO counter(name, value) VALUES ('archive_id', random())
             ON CONFLICT(name) DO NOTHING",
            [],
        )
        .map_err(&be)?;
        let id: i64 = tx
            .query_row(
                "SELECT value FROM counter WHERE name = 'archive_id'",
                [],
                |r| r.get(0),
            )
            .map_err(&be)?;
        tx.commit().map_err(&be)?;
        Ok(id)
    }

    fn write(&mut self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let be = backend(&self.path);
        let tx = immediate(&mut self.conn, &self.gate, &self.path)?;
        let mut tagsets = write::Tagsets::default();
        for op in ops {
            apply(&tx, op, &mut tagsets).map_err(&be)?;
        }
        tx.commit().map_err(&be)
    }

    fn stock(&self, stock: i64) -> Result<Option<StockDoc>, StoreError> {
        Ok(self
            .query_docs("stock", "SELECT doc FROM stock WHERE stock = ?1", &[&stock])?
            .pop())
    }

    fn stock_by_name(&self, name: &str) -> Result<Option<StockDoc>, StoreError> {
        Ok(self
            .query_docs(
                "stock",
                "SELECT s.doc FROM stock s JOIN stock_name n ON n.stock = s.stock WHERE n.name = ?1",
                &[&name],
            )?
            .pop())
    }

    fn stocks(&self, q: &StockQuery) -> Result<Vec<StockDoc>, StoreError> {
        let after = q.updated_after.unwrap_or(f64::MIN);
        let before = q.updated_before.unwrap_or(f64::MAX);
        let docs: Vec<StockDoc> = match &q.channel {
            // A scheduled T3 asks for the stocks updated since its last
            // run: walking the time index costs what was updated, where
            // the join below would read every stock the channel ever had.
            Some(c) if q.updated_after.is_some() => {
                self.query_docs("stock", CHANNEL_STOCKS_UPDATED, &[c, &after, &before])?
            }
            Some(c) => self.query_docs(
                "stock",
                "SELECT s.doc FROM stock s JOIN stock_channel c ON c.stock = s.stock
                 WHERE c.channel = ?1 AND s.updated >= ?2 AND s.updated <= ?3 ORDER BY s.stock",
                &[c, &after, &before],
            )?,
            None => self.query_docs(
                "stock",
                "SELECT doc FROM stock WHERE updated >= ?1 AND updated <= ?2 ORDER BY stock",
                &[&after, &before],
            )?,
        };
        Ok(docs
            .into_iter()
            .filter(|d| q.tags.iter().all(|t| d.tag.contains(t)))
            .collect())
    }

    fn datapoints(&self, stock: i64) -> Result<Vec<DataPointDoc>, StoreError> {
        self.query_docs("t0", STOCK_DATAPOINTS, &[&stock])
    }

    fn datapoints_projected(
        &self,
        stock: i64,
        p: &DataPointProjection,
    ) -> Result<Vec<DataPointDoc>, StoreError> {
        self.query_parsed("t0", STOCK_DATAPOINTS, &[&stock], |text| p.parse(text))
    }

    /// One statement (one read transaction, one snapshot), each id found
    /// through `t0`'s id index ([`DATAPOINTS_AMONG`]).
    fn datapoints_projected_among(
        &self,
        _stock: i64,
        ids: &[i64],
        p: &DataPointProjection,
    ) -> Result<Vec<DataPointDoc>, StoreError> {
        let list = serde_json::to_string(ids).expect("a list of integers");
        self.query_parsed("t0", DATAPOINTS_AMONG, &[&list], |text| p.parse(text))
    }

    fn datapoint_tags(&self, stock: i64) -> Result<Vec<(i64, Vec<String>)>, StoreError> {
        self.member_tags(stock)
    }

    fn states(&self, stock: i64) -> Result<Vec<T1Doc>, StoreError> {
        self.query_docs(
            "t1",
            "SELECT doc FROM t1 WHERE stock = ?1 ORDER BY link",
            &[&stock],
        )
    }

    fn state(&self, stock: i64, link: i64) -> Result<Option<T1Doc>, StoreError> {
        let sql = "SELECT doc FROM t1 WHERE stock = ?1 AND link = ?2";
        Ok(self.query_docs("t1", sql, &[&stock, &link])?.pop())
    }

    fn cutout(&self, id: i64) -> Result<Option<CutoutDoc>, StoreError> {
        self.one_cutout(
            "SELECT id, stock, jd, science, template, difference FROM cutout WHERE id = ?1",
            id,
        )
    }

    fn latest_cutout(&self, stock: i64) -> Result<Option<CutoutDoc>, StoreError> {
        self.one_cutout(
            "SELECT id, stock, jd, science, template, difference FROM cutout
             WHERE stock = ?1 ORDER BY jd DESC, id DESC LIMIT 1",
            stock,
        )
    }

    fn t2(&self, q: &T2Query) -> Result<Vec<T2Doc>, StoreError> {
        let (filter, args) = t2_where(q);
        let sql = format!("SELECT doc FROM t2{filter} ORDER BY stock, unit, config, link");
        let args: Vec<&dyn rusqlite::ToSql> =
            args.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
        let docs: Vec<T2Doc> = self.query_docs("t2", &sql, &args)?;
        Ok(match &q.channel {
            Some(c) => docs.into_iter().filter(|d| d.channel.contains(c)).collect(),
            None => docs,
        })
    }

    /// Counted in SQL: with the (code, unit, config) index a count reads
    /// index entries only when the query names a code.
    fn count_t2(&self, q: &T2Query) -> Result<usize, StoreError> {
        if q.channel.is_some() {
            return Ok(self.t2(q)?.len());
        }
        let (filter, args) = t2_where(q);
        let sql = format!("SELECT COUNT(*) FROM t2{filter}");
        let n: i64 = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut st| st.query_row(rusqlite::params_from_iter(args), |r| r.get(0)))
            .map_err(|e| self.err(e))?;
        Ok(n as usize)
    }

    /// Over the `(code, unit, config)` index: no document is read.
    fn t2_codes(&self) -> Result<BTreeMap<i64, u64>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(T2_CODES)
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    fn channel_counts(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT channel, COUNT(*) FROM stock_channel GROUP BY channel")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    fn t2_outcomes(&self) -> Result<BTreeMap<(String, i64), u64>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT unit, code, COUNT(*) FROM t2 GROUP BY unit, code")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    (r.get::<_, String>(0)?, r.get::<_, i64>(1)?),
                    r.get::<_, i64>(2)? as u64,
                ))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// See `claims.rs`.
    fn claim_t2(
        &mut self,
        now: f64,
        max: usize,
        units: &[String],
    ) -> Result<Vec<T2Doc>, StoreError> {
        self.claim_due(now, max, units)
    }

    fn claim_t2_keys(
        &mut self,
        keys: &[T2Key],
        now: f64,
        steal_running: bool,
    ) -> Result<Vec<T2Doc>, StoreError> {
        self.claim_keys(keys, now, steal_running)
    }

    fn t3(&self, stock: Option<i64>) -> Result<Vec<T3Doc>, StoreError> {
        let docs: Vec<T3Doc> = self.query_docs("t3", "SELECT doc FROM t3 ORDER BY id", &[])?;
        Ok(match stock {
            Some(s) => docs.into_iter().filter(|d| d.stock.contains(&s)).collect(),
            None => docs,
        })
    }

    fn t3_last_selected(&self, process: &str) -> Result<Option<f64>, StoreError> {
        self.conn
            .prepare_cached(T3_LAST_SELECTED)
            .and_then(|mut st| st.query_row([process], |r| r.get(0)))
            .map_err(|e| self.err(e))
    }

    fn reactions(&self, q: &ReactionQuery) -> Result<Vec<ReactionDoc>, StoreError> {
        let states: Vec<&str> = q.states.iter().map(|s| s.name()).collect();
        let states = serde_json::to_string(&states).expect("strings");
        self.query_docs(
            "reaction",
            "SELECT doc FROM reaction WHERE (?1 IS NULL OR destination = ?1)
               AND (?2 = '[]' OR state IN (SELECT value FROM json_each(?2)))
               AND (?3 IS NULL OR next_try <= ?3) ORDER BY seq LIMIT ?4",
            &[
                &q.destination,
                &states,
                &q.due_by,
                &q.limit.map_or(-1, |l| l as i64),
            ],
        )
    }

    fn claim_reaction(
        &mut self,
        destination: &str,
        now: f64,
    ) -> Result<Option<ReactionDoc>, StoreError> {
        let be = backend(&self.path);
        let tx = immediate(&mut self.conn, &self.gate, &self.path)?;
        let text: Option<String> = tx
            .prepare_cached(
                "SELECT doc FROM reaction WHERE destination = ?1 AND state = 'pending'
                 AND next_try <= ?2 ORDER BY seq LIMIT 1",
            )
            .and_then(|mut st| {
                st.query_row(params![destination, now], |r| r.get(0))
                    .optional()
            })
            .map_err(&be)?;
        let Some(text) = text else {
            return Ok(None);
        };
        let mut d: ReactionDoc = parse_doc(&self.path, "reaction", &text)?;
        merge::claim_reaction(&mut d, now);
        put_reaction(&tx, &d).map_err(&be)?;
        tx.commit().map_err(&be)?;
        Ok(Some(d))
    }

    fn reactions_open(&self, destination: &str, now: f64) -> Result<(usize, usize), StoreError> {
        self.conn
            .prepare_cached(
                "SELECT COUNT(*), COALESCE(SUM(next_try <= ?2), 0) FROM reaction
                 WHERE destination = ?1 AND state IN ('pending', 'sending')",
            )
            .and_then(|mut st| {
                st.query_row(params![destination, now], |r| {
                    Ok((r.get::<_, i64>(0)? as usize, r.get::<_, i64>(1)? as usize))
                })
            })
            .map_err(|e| self.err(e))
    }

    fn reaction_items(
        &self,
        destination: &str,
        stocks: &[i64],
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT stock, digest FROM reaction_item WHERE destination = ?1 AND stock = ?2",
            )
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for s in stocks {
            let rows = st
                .query_map(params![destination, s], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(|e| self.err(e))?;
            for r in rows {
                out.push(r.map_err(|e| self.err(e))?);
            }
        }
        Ok(out)
    }

    fn events(&self) -> Result<Vec<EventDoc>, StoreError> {
        self.query_docs("event", "SELECT doc FROM event ORDER BY run", &[])
    }

    fn logs(&self, q: &LogQuery) -> Result<Vec<LogDoc>, StoreError> {
        use rusqlite::types::Value;
        let (filter, mut args) = where_eq(vec![
            ("run", q.run.map(Value::Integer)),
            ("stock", q.stock.map(Value::Integer)),
            ("channel", q.channel.clone().map(Value::Text)),
        ]);
        args.push(Value::Integer(q.limit.map_or(-1, |l| l as i64)));
        let sql = format!(
            "SELECT doc FROM log{filter} ORDER BY id LIMIT ?{}",
            args.len()
        );
        let args: Vec<&dyn rusqlite::ToSql> =
            args.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
        self.query_docs("log", &sql, &args)
    }

    fn config(&self, id: i64) -> Result<Option<Json>, StoreError> {
        Ok(self
            .query_docs("conf", "SELECT doc FROM conf WHERE id = ?1", &[&id])?
            .pop())
    }

    fn troubles(&self) -> Result<Vec<Json>, StoreError> {
        self.query_docs("trouble", "SELECT doc FROM trouble ORDER BY id", &[])
    }

    fn t2_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM t2", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(n as u64)
    }

    fn counts(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        let mut out = BTreeMap::new();
        for t in [
            "stock", "t0", "t1", "t2", "t3", "log", "event", "conf", "trouble", "reaction",
        ] {
            let n: i64 = self
                .conn
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                .map_err(|e| self.err(e))?;
            out.insert(t.to_string(), n);
        }
        Ok(out)
    }
}
