//! What each [`WriteOp`] means in MongoDB: statements of one collection,
//! updates with AMPEL's operators (`$addToSet`, `$push`, `$setOnInsert`)
//! or inserts, the same semantics as `ampel::store::merge` (checked by the
//! conformance suite). [`super::batch`] sends them, a collection at a time.

use super::sync::{to_b, to_doc};
use ampel::store::*;
use mongodb::bson::{doc, Bson, Document};

/// One statement of an `update` or `insert` command.
#[derive(Debug, Clone)]
pub(super) enum Stmt {
    Update {
        q: Document,
        u: Document,
        upsert: bool,
        multi: bool,
    },
    Insert(Document),
}

impl Stmt {
    fn upsert(q: Document, u: Document) -> Stmt {
        Stmt::Update {
            q,
            u,
            upsert: true,
            multi: false,
        }
    }

    fn update(q: Document, u: Document) -> Stmt {
        Stmt::Update {
            q,
            u,
            upsert: false,
            multi: false,
        }
    }

    /// The element of the command's `updates` or `documents` array.
    pub(super) fn into_doc(self) -> Document {
        match self {
            Stmt::Update {
                q,
                u,
                upsert,
                multi,
            } => doc! {"q": q, "u": u, "upsert": upsert, "multi": multi},
            Stmt::Insert(d) => d,
        }
    }

    pub(super) fn is_insert(&self) -> bool {
        matches!(self, Stmt::Insert(_))
    }
}

/// A batch's statements by collection, each collection's in the order of
/// the ops (two ops on one document must apply in order); collections in
/// the order they first appear.
#[derive(Debug, Default)]
pub(super) struct Statements {
    pub(super) by_collection: Vec<(&'static str, Vec<Stmt>)>,
}

impl Statements {
    pub(super) fn of(ops: &[WriteOp]) -> Statements {
        let mut s = Statements::default();
        for op in ops {
            s.add(op);
        }
        s
    }

    fn push(&mut self, collection: &'static str, stmt: Stmt) {
        match self
            .by_collection
            .iter_mut()
            .find(|(c, _)| *c == collection)
        {
            Some((_, v)) => v.push(stmt),
            None => self.by_collection.push((collection, vec![stmt])),
        }
    }

    fn add(&mut self, op: &WriteOp) {
        match op {
            WriteOp::DataPoint(d) => self.push(
                "t0",
                Stmt::upsert(
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
                ),
            ),
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
                self.push(
                    "stock",
                    Stmt::upsert(
                        doc! {"stock": stock},
                        doc! {
                            "$addToSet": {"channel": channel, "name": {"$each": to_b(names)}, "tag": {"$each": to_b(tags)}},
                            "$push": {"journal": to_b(journal)},
                            "$set": set,
                            "$min": min,
                        },
                    ),
                )
            }
            WriteOp::Journal { stock, entry } => self.push(
                "stock",
                Stmt::update(doc! {"stock": stock}, doc! {"$push": {"journal": to_b(entry)}}),
            ),
            WriteOp::State(t) => self.push(
                "t1",
                Stmt::upsert(
                    doc! {"stock": t.stock, "link": t.link},
                    doc! {
                        "$setOnInsert": {"dps": to_b(&t.dps), "code": t.code},
                        "$addToSet": {"channel": {"$each": to_b(&t.channel)}, "tag": {"$each": to_b(&t.tag)}},
                        "$push": {"meta": {"$each": to_b(&t.meta)}},
                    },
                ),
            ),
            WriteOp::T2Ticket(t) => {
                let mut insert = to_doc(t);
                for k in ["stock", "unit", "config", "link", "channel", "tag"] {
                    insert.remove(k);
                }
                self.push(
                    "t2",
                    Stmt::upsert(
                        t2_filter(&t.key()),
                        doc! {
                            "$setOnInsert": insert,
                            "$addToSet": {"channel": {"$each": to_b(&t.channel)}, "tag": {"$each": to_b(&t.tag)}},
                        },
                    ),
                )
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
                self.push(
                    "t2",
                    Stmt::update(
                        t2_filter(key),
                        doc! {"$set": {"code": code, "trials": i64::from(*trials), "retry_after": to_b(retry_after)}, "$push": push},
                    ),
                )
            }
            WriteOp::T2Code { key, code } => {
                let set = if *code == code::NEW {
                    doc! {"code": code, "trials": 0i64, "retry_after": Bson::Null}
                } else {
                    doc! {"code": code}
                };
                self.push("t2", Stmt::update(t2_filter(key), doc! {"$set": set}))
            }
            WriteOp::T3(d) => self.push("t3", Stmt::Insert(to_doc(d))),
            WriteOp::Log(d) => self.push("log", Stmt::Insert(to_doc(d))),
            WriteOp::Event(d) => {
                // A replacement: an update document without operators.
                self.push("event", Stmt::upsert(doc! {"run": d.run}, to_doc(d)))
            }
            WriteOp::Heartbeat { run, ts } => self.push(
                "event",
                Stmt::update(
                    doc! {"run": run, "code": code::RUNNING},
                    doc! {"$set": {"heartbeat": ts}},
                ),
            ),
            WriteOp::Config { id, config } => self.push(
                "conf",
                Stmt::upsert(
                    doc! {"_id": id},
                    doc! {"$setOnInsert": {"config": to_b(config)}},
                ),
            ),
            WriteOp::Cutout(c) => self.push(
                "cutout",
                Stmt::upsert(
                    doc! {"_id": c.id},
                    doc! {"$setOnInsert": super::cutouts::to_bson(c)},
                ),
            ),
            WriteOp::Trouble(d) => self.push("trouble", Stmt::Insert(doc! {"doc": to_b(d)})),
            WriteOp::Reaction(d) => {
                self.push(
                    "reaction",
                    Stmt::upsert(doc! {"id": &d.id}, doc! {"$setOnInsert": to_doc(d)}),
                );
                for (stock, digest) in &d.items {
                    self.push(
                        "reaction_item",
                        Stmt::upsert(
                            doc! {"destination": &d.destination, "stock": stock, "digest": digest},
                            doc! {"$setOnInsert": {"reaction": &d.id}},
                        ),
                    );
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
                let mut set = doc! {"state": state.name(), "attempts": i64::from(*attempts),
                    "next_try": next_try, "updated": ts};
                if let Some(e) = error {
                    set.insert("error", e);
                }
                self.push(
                    "reaction",
                    Stmt::update(doc! {"id": id}, doc! {"$set": set}),
                )
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
                self.push(
                    "reaction",
                    Stmt::Update {
                        q: f,
                        u: doc! {"$set": {"state": "pending", "attempts": 0i64, "next_try": ts, "updated": ts}},
                        upsert: false,
                        multi: true,
                    },
                )
            }
        }
    }
}

pub(super) fn t2_filter(k: &T2Key) -> Document {
    doc! {"stock": k.stock, "unit": &k.unit, "config": k.config, "link": k.link}
}

#[cfg(test)]
mod tests {
    use super::*;
    use ampel::alert::{Body, FieldNames, Row, Value};

    fn datapoint(body: DataPointBody) -> WriteOp {
        WriteOp::DataPoint(DataPointDoc {
            id: 5,
            stock: vec![9],
            channel: vec!["A".into()],
            tag: vec!["ZTF".into()],
            meta: Vec::new(),
            body,
        })
    }

    /// T0 writes a new datapoint's body straight from the alert's row: the
    /// statement sent must be the one its JSON form gives (the same BSON
    /// types: ints as Int64, bytes as a list, a NaN as null).
    #[test]
    fn a_row_body_is_sent_as_its_json_form() {
        let names = FieldNames::new(["jd", "candid", "fid", "name", "bad", "raw", "none"]);
        let row = Body::new(
            names,
            Row(vec![
                Value::Float(2460000.5),
                Value::Int(1_234_567_890_123),
                Value::Int(2),
                Value::Str("ZTF21".into()),
                Value::Float(f64::INFINITY),
                Value::Bytes(vec![3, 4].into()),
                Value::Null,
            ]),
        );
        for fields in [
            RowFields::All,
            RowFields::Except(&["candid"]),
            RowFields::Only(&["fid", "jd", "missing"]),
        ] {
            let body = RowBody::new(row.clone(), fields);
            let json = DataPointBody::Json(DataPointBody::from(body.clone()).into_json());
            let sent = |b| Statements::of(&[datapoint(b)]).by_collection[0].1[0].clone();
            assert_eq!(
                format!("{:?}", sent(body.into())),
                format!("{:?}", sent(json)),
                "{fields:?}"
            );
        }
    }
}
