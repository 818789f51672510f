//! How a batch of [`WriteOp`]s becomes MongoDB updates with AMPEL's
//! operators (`$addToSet`, `$push`, `$setOnInsert`), and how a batch runs
//! in one transaction, retried whole on transient conflicts.

use super::errors::{
    backoff, TRANSIENT_TRANSACTION_ERROR, TXN_MAX_ATTEMPTS, TXN_RETRY_LIMIT,
    UNKNOWN_TRANSACTION_COMMIT_RESULT,
};
use super::sync::{to_b, to_doc, MongoSync};
use ampel::store::*;
use mongodb::bson::{doc, Bson, Document};
use mongodb::sync::ClientSession;

impl MongoSync {
    pub(super) fn t2_filter(k: &T2Key) -> Document {
        doc! {"stock": k.stock, "unit": &k.unit, "config": k.config, "link": k.link}
    }

    /// One op as MongoDB updates.
    pub(super) fn apply(
        &self,
        op: &WriteOp,
        s: &mut Option<&mut ClientSession>,
    ) -> mongodb::error::Result<()> {
        macro_rules! run {
            ($action:expr) => {
                match s.as_mut() {
                    Some(session) => $action.session(&mut **session).run().map(|_| ()),
                    None => $action.run().map(|_| ()),
                }
            };
        }
        match op {
            WriteOp::DataPoint(d) => run!(self
                .coll("t0")
                .update_one(
                    doc! {"id": d.id},
                    doc! {
                        "$setOnInsert": {"body": to_b(&d.body)},
                        "$addToSet": {
                            "stock": {"$each": to_b(&d.stock)},
                            "channel": {"$each": to_b(&d.channel)},
                            "tag": {"$each": to_b(&d.tag)},
                        },
                        "$push": {"meta": {"$each": to_b(&d.meta)}},
                    },
                )
                .upsert(true)),
            WriteOp::Stock {
                stock,
                channel,
                names,
                tags,
                journal,
            } => {
                let mut set = doc! {"updated": journal.ts};
                set.insert(format!("ts.{channel}.upd"), journal.ts);
                let mut min = Document::new();
                min.insert(format!("ts.{channel}.tied"), journal.ts);
                run!(self
                    .coll("stock")
                    .update_one(
                        doc! {"stock": stock},
                        doc! {
                            "$addToSet": {"channel": channel, "name": {"$each": to_b(names)}, "tag": {"$each": to_b(tags)}},
                            "$push": {"journal": to_b(journal)},
                            "$set": set,
                            "$min": min,
                        },
                    )
                    .upsert(true))
            }
            WriteOp::Journal { stock, entry } => run!(self
                .coll("stock")
                .update_one(doc! {"stock": stock}, doc! {"$push": {"journal": to_b(entry)}})),
            WriteOp::State(t) => run!(self
                .coll("t1")
                .update_one(
                    doc! {"stock": t.stock, "link": t.link},
                    doc! {
                        "$setOnInsert": {"dps": to_b(&t.dps), "code": t.code},
                        "$addToSet": {"channel": {"$each": to_b(&t.channel)}, "tag": {"$each": to_b(&t.tag)}},
                        "$push": {"meta": {"$each": to_b(&t.meta)}},
                    },
                )
                .upsert(true)),
            WriteOp::T2Ticket(t) => {
                let mut insert = to_doc(t);
                for k in ["stock", "unit", "config", "link", "channel", "tag"] {
                    insert.remove(k);
                }
                run!(self
                    .coll("t2")
                    .update_one(
                        Self::t2_filter(&t.key()),
                        doc! {
                            "$setOnInsert": insert,
                            "$addToSet": {"channel": {"$each": to_b(&t.channel)}, "tag": {"$each": to_b(&t.tag)}},
                        },
                    )
                    .upsert(true))
            }
            WriteOp::T2Result {
                key,
                code,
                body,
                meta,
                trials,
                retry_after,
            } => {
                let mut push = doc! {"meta": to_b(meta)};
                if let Some(b) = body {
                    push.insert("body", to_b(b));
                }
                run!(self.coll("t2").update_one(
                    Self::t2_filter(key),
                    doc! {"$set": {"code": code, "trials": i64::from(*trials), "retry_after": to_b(retry_after)}, "$push": push},
                ))
            }
            WriteOp::T2Code { key, code } => {
                let set = if *code == ampel::store::code::NEW {
                    doc! {"code": code, "trials": 0i64, "retry_after": Bson::Null}
                } else {
                    doc! {"code": code}
                };
                run!(self.coll("t2").update_one(Self::t2_filter(key), doc! {"$set": set}))
            }
            WriteOp::T3(d) => run!(self.coll("t3").insert_one(to_doc(d))),
            WriteOp::Log(d) => run!(self.coll("log").insert_one(to_doc(d))),
            WriteOp::Event(d) => run!(self.coll("event").replace_one(doc! {"run": d.run}, to_doc(d)).upsert(true)),
            WriteOp::Heartbeat { run, ts } => run!(self
                .coll("event")
                .update_one(doc! {"run": run, "code": code::RUNNING}, doc! {"$set": {"heartbeat": ts}})),
            WriteOp::Config { id, config } => run!(self
                .coll("conf")
                .update_one(doc! {"_id": id}, doc! {"$setOnInsert": {"config": to_b(config)}})
                .upsert(true)),
            WriteOp::Trouble(d) => run!(self.coll("trouble").insert_one(doc! {"doc": to_b(d)})),
            WriteOp::Reaction(d) => {
                run!(self
                    .coll("reaction")
                    .update_one(doc! {"id": &d.id}, doc! {"$setOnInsert": to_doc(d)})
                    .upsert(true))?;
                for (stock, digest) in &d.items {
                    run!(self
                        .coll("reaction_item")
                        .update_one(
                            doc! {"destination": &d.destination, "stock": stock, "digest": digest},
                            doc! {"$setOnInsert": {"reaction": &d.id}},
                        )
                        .upsert(true))?;
                }
                Ok(())
            }
            WriteOp::ReactionState {
                id,
                state,
                attempts,
                next_try,
                error,
                ts,
            } => {
                let mut set = doc! {"state": state.name(), "attempts": i64::from(*attempts),
                    "next_try": next_try, "updated": ts};
                if let Some(e) = error {
                    set.insert("error", e);
                }
                run!(self.coll("reaction").update_one(doc! {"id": id}, doc! {"$set": set}))
            }
            WriteOp::RearmReactions {
                destination,
                uncertain,
                ts,
            } => {
                let mut states = vec!["failed"];
                if *uncertain {
                    states.push("uncertain");
                }
                let mut f = doc! {"state": {"$in": states}};
                if let Some(d) = destination {
                    f.insert("destination", d);
                }
                run!(self.coll("reaction").update_many(
                    f,
                    doc! {"$set": {"state": "pending", "attempts": 0i64, "next_try": ts, "updated": ts}},
                ))
            }
        }
    }

    /// The batch in one transaction, retried whole while the server labels
    /// the failure `TransientTransactionError` (a write conflict with a
    /// concurrent writer, a primary stepping down), and its commit retried
    /// while labelled `UnknownTransactionCommitResult`: the driver's own
    /// `and_run` pattern, bounded by [`TXN_RETRY_LIMIT`] with back-off.
    pub(super) fn write_in_transaction(&self, ops: &[WriteOp]) -> mongodb::error::Result<()> {
        let mut session = self.client.start_session().run()?;
        let started = std::time::Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let may_retry =
                |attempt: u32| attempt < TXN_MAX_ATTEMPTS && started.elapsed() < TXN_RETRY_LIMIT;
            match self.try_transaction(&mut session, ops) {
                Ok(()) => return Ok(()),
                Err(e) if e.contains_label(TRANSIENT_TRANSACTION_ERROR) && may_retry(attempt) => {
                    std::thread::sleep(backoff(attempt));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn try_transaction(
        &self,
        session: &mut ClientSession,
        ops: &[WriteOp],
    ) -> mongodb::error::Result<()> {
        session.start_transaction().run()?;
        let mut s = Some(session);
        for op in ops {
            if let Err(e) = self.apply(op, &mut s) {
                if let Some(session) = s {
                    let _ = session.abort_transaction().run();
                }
                return Err(e);
            }
        }
        let session = s.expect("session");
        let mut tries = 0;
        loop {
            tries += 1;
            match session.commit_transaction().run() {
                Err(e) if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) && tries < 5 => {
                    std::thread::sleep(backoff(tries));
                }
                r => return r,
            }
        }
    }
}
