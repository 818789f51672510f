//! The embedded archive's writes: each [`WriteOp`] applied inside the
//! batch's transaction, merged with what is stored as AMPEL's update
//! rules say (see [`merge`]).

use super::super::*;
use rusqlite::{params, OptionalExtension, Transaction};
use serde::de::DeserializeOwned;

pub(super) fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("documents serialise")
}

fn get_doc<T: DeserializeOwned>(
    tx: &Transaction,
    sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = tx
        .prepare_cached(sql)?
        .query_row(args, |r| r.get(0))
        .optional()?;
    Ok(text.map(|t| serde_json::from_str(&t).expect("archive documents are written by us")))
}

/// The `tagset` numbers of the tag lists a transaction has written (see
/// `schema.rs`): a batch's datapoints share a few lists, so each is looked
/// up once per batch, not once per datapoint. Per transaction, since a
/// number inserted by one rolled back would not exist.
#[derive(Default)]
pub(super) struct Tagsets(std::collections::HashMap<String, i64>);

impl Tagsets {
    fn id(&mut self, tx: &Transaction, tags: &str) -> rusqlite::Result<i64> {
        if let Some(&n) = self.0.get(tags) {
            return Ok(n);
        }
        tx.prepare_cached("INSERT OR IGNORE INTO tagset(tags) VALUES (?1)")?
            .execute([tags])?;
        let n = tx
            .prepare_cached("SELECT id FROM tagset WHERE tags = ?1")?
            .query_row([tags], |r| r.get(0))?;
        self.0.insert(tags.to_string(), n);
        Ok(n)
    }
}

pub(super) fn apply(tx: &Transaction, op: WriteOp, tagsets: &mut Tagsets) -> rusqlite::Result<()> {
    match op {
        WriteOp::DataPoint(d) => {
            // Most datapoints are new: insert first, merge only on conflict.
            let tags = json(&d.tag);
            let new = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO t0(id, stock, tags, doc) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![d.id, d.stock[0], tags, json(&d)])?
                == 1;
            let (d, tags) = if new {
                (d, tags)
            } else {
                let stored = get_doc(tx, "SELECT doc FROM t0 WHERE id = ?1", &[&d.id])?;
                let d = merge::datapoint(stored, d);
                let tags = json(&d.tag);
                tx.prepare_cached("UPDATE t0 SET tags = ?2, doc = ?3 WHERE id = ?1")?
                    .execute(params![d.id, tags, json(&d)])?;
                (d, tags)
            };
            // t0_member: the datapoint's stock set, one row per member, so a
            // read by stock finds datapoints shared with other stocks; each
            // with the datapoint's tags as a `tagset` number (schema.rs). A
            // member row is rewritten only when the tags changed, so a
            // datapoint stored again (a re-ingested alert) dirties no page.
            let tagset = tagsets.id(tx, &tags)?;
            let mut member = tx.prepare_cached(
                "INSERT INTO t0_member(stock, id, tagset) VALUES (?1, ?2, ?3)
                 ON CONFLICT(stock, id) DO UPDATE SET tagset = excluded.tagset
                 WHERE tagset IS NOT excluded.tagset",
            )?;
            for s in &d.stock {
                member.execute(params![s, d.id, tagset])?;
            }
        }
        WriteOp::Stock {
            stock,
            channel,
            names,
            tags,
            journal,
        } => {
            let stored = get_doc(tx, "SELECT doc FROM stock WHERE stock = ?1", &[&stock])?;
            let sql = if stored.is_some() {
                "UPDATE stock SET updated = ?2, doc = ?3 WHERE stock = ?1"
            } else {
                "INSERT INTO stock(stock, updated, doc) VALUES (?1, ?2, ?3)"
            };
            let d = merge::stock(stored, stock, &channel, &names, &tags, journal);
            tx.prepare_cached(sql)?
                .execute(params![d.stock, d.updated, json(&d)])?;
            tx.prepare_cached(
                "INSERT OR IGNORE INTO stock_channel(stock, channel) VALUES (?1, ?2)",
            )?
            .execute(params![stock, channel])?;
            for n in &names {
                tx.prepare_cached("INSERT OR IGNORE INTO stock_name(name, stock) VALUES (?1, ?2)")?
                    .execute(params![n, stock])?;
            }
        }
        WriteOp::Journal { stock, entry } => {
            if let Some(mut d) =
                get_doc::<StockDoc>(tx, "SELECT doc FROM stock WHERE stock = ?1", &[&stock])?
            {
                d.journal.push(entry);
                tx.prepare_cached("UPDATE stock SET doc = ?2 WHERE stock = ?1")?
                    .execute(params![stock, json(&d)])?;
            }
        }
        WriteOp::State(d) => {
            let new = tx
                .prepare_cached("INSERT OR IGNORE INTO t1(stock, link, doc) VALUES (?1, ?2, ?3)")?
                .execute(params![d.stock, d.link, json(&d)])?
                == 1;
            if !new {
                let stored = get_doc(
                    tx,
                    "SELECT doc FROM t1 WHERE stock = ?1 AND link = ?2",
                    &[&d.stock, &d.link],
                )?;
                let d = merge::state(stored, d);
                tx.prepare_cached("UPDATE t1 SET doc = ?3 WHERE stock = ?1 AND link = ?2")?
                    .execute(params![d.stock, d.link, json(&d)])?;
            }
        }
        WriteOp::T2Ticket(d) => {
            let new = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO t2(stock, unit, config, link, code, doc)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![d.stock, d.unit, d.config, d.link, d.code, json(&d)])?
                == 1;
            if !new {
                let stored = get_t2(tx, &d.key())?;
                put_t2(tx, &merge::t2_ticket(stored, d))?;
            }
        }
        WriteOp::T2Result {
            key,
            code,
            body,
            meta,
            trials,
            retry_after,
        } => {
            if let Some(d) = get_t2(tx, &key)? {
                put_t2(
                    tx,
                    &merge::t2_result(d, code, body, meta, trials, retry_after),
                )?;
            }
        }
        WriteOp::T2Code { key, code } => {
            if let Some(mut d) = get_t2(tx, &key)? {
                d.code = code;
                if code == code::NEW {
                    d.trials = 0;
                    d.retry_after = None;
                }
                put_t2(tx, &d)?;
            }
        }
        WriteOp::T3(d) => {
            tx.prepare_cached("INSERT INTO t3(run, doc) VALUES (?1, ?2)")?
                .execute(params![d.run, json(&d)])?;
        }
        WriteOp::Log(d) => {
            tx.prepare_cached("INSERT INTO log(run, stock, channel, doc) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![d.run, d.stock, d.channel, json(&d)])?;
        }
        WriteOp::Event(d) => {
            tx.prepare_cached("INSERT OR REPLACE INTO event(run, doc) VALUES (?1, ?2)")?
                .execute(params![d.run, json(&d)])?;
        }
        WriteOp::Heartbeat { run, ts } => {
            tx.prepare_cached(
                "UPDATE event SET doc = json_set(doc, '$.heartbeat', ?2)
                 WHERE run = ?1 AND json_extract(doc, '$.code') = ?3",
            )?
            .execute(params![run, ts, code::RUNNING])?;
        }
        WriteOp::Config { id, config } => {
            tx.prepare_cached("INSERT OR IGNORE INTO conf(id, doc) VALUES (?1, ?2)")?
                .execute(params![id, json(&config)])?;
        }
        WriteOp::Cutout(c) => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO cutout(id, stock, jd, science, template, difference)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                c.id,
                c.stock,
                c.jd,
                c.science,
                c.template,
                c.difference
            ])?;
        }
        WriteOp::Trouble(doc) => {
            tx.prepare_cached("INSERT INTO trouble(doc) VALUES (?1)")?
                .execute(params![json(&doc)])?;
        }
        WriteOp::Reaction(d) => {
            let n = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO reaction(id, destination, state, next_try, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![d.id, d.destination, d.state.name(), d.next_try, json(&d)])?;
            if n == 1 {
                let mut st = tx.prepare_cached(
                    "INSERT OR IGNORE INTO reaction_item(destination, stock, digest, reaction) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for (stock, digest) in &d.items {
                    st.execute(params![d.destination, stock, digest, d.id])?;
                }
            }
        }
        WriteOp::ReactionState {
            id,
            state,
            attempts,
            next_try,
            error,
            ts,
        } => {
            let Some(mut d) =
                get_doc::<ReactionDoc>(tx, "SELECT doc FROM reaction WHERE id = ?1", &[&id])?
            else {
                return Ok(());
            };
            merge::reaction_state(&mut d, state, attempts, next_try, error, ts);
            put_reaction(tx, &d)?;
        }
        WriteOp::RearmReactions {
            destination,
            uncertain,
            ts,
        } => {
            let docs: Vec<ReactionDoc> = {
                let mut st = tx.prepare_cached(
                    "SELECT doc FROM reaction WHERE state IN ('failed', ?1) AND (?2 IS NULL OR destination = ?2)",
                )?;
                let which = if uncertain { "uncertain" } else { "failed" };
                let rows = st.query_map(params![which, destination], |r| r.get::<_, String>(0))?;
                rows.map(|r| {
                    r.map(|t| {
                        serde_json::from_str(&t).expect("archive documents are written by us")
                    })
                })
                .collect::<rusqlite::Result<_>>()?
            };
            for mut d in docs {
                merge::rearm_reaction(&mut d, ts);
                put_reaction(tx, &d)?;
            }
        }
    }
    Ok(())
}

pub(super) fn put_reaction(tx: &Transaction, d: &ReactionDoc) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE reaction SET state = ?2, next_try = ?3, doc = ?4 WHERE id = ?1")?
        .execute(params![d.id, d.state.name(), d.next_try, json(d)])?;
    Ok(())
}

fn get_t2(tx: &Transaction, k: &T2Key) -> rusqlite::Result<Option<T2Doc>> {
    get_doc(
        tx,
        "SELECT doc FROM t2 WHERE stock = ?1 AND unit = ?2 AND config = ?3 AND link = ?4",
        &[&k.stock, &k.unit, &k.config, &k.link],
    )
}

/// Stores a T2 document: an update in place when it exists (most calls:
/// results, codes), which leaves the key index alone; else an insert.
pub(super) fn put_t2(tx: &Transaction, d: &T2Doc) -> rusqlite::Result<()> {
    let updated = tx
        .prepare_cached(
            "UPDATE t2 SET code = ?5, doc = ?6
             WHERE stock = ?1 AND unit = ?2 AND config = ?3 AND link = ?4",
        )?
        .execute(params![d.stock, d.unit, d.config, d.link, d.code, json(d)])?;
    if updated == 0 {
        tx.prepare_cached(
            "INSERT INTO t2(stock, unit, config, link, code, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![d.stock, d.unit, d.config, d.link, d.code, json(d)])?;
    }
    Ok(())
}
