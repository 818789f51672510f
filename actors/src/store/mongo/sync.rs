//! The MongoDB archive's work, on the driver's synchronous API: AMPEL's
//! collections, document shapes and indexes, reads and claims. A batch's
//! ops become statements ([`super::statements`]) sent as one command per
//! collection ([`super::batch`]).
//!
//! A batch runs in a multi-document transaction when the server supports
//! them (replica sets, sharded clusters). A standalone server does not; the
//! ops then run in order, each atomic on its own, and a crash mid-batch can
//! leave part of a batch applied: replaying the same alerts then adds meta
//! records but no duplicate documents (every write is keyed).
//!
//! The synchronous API blocks on the driver's own runtime, which panics
//! inside another async runtime: only the archive thread of
//! [`super::MongoArchive`] calls this.

use super::errors::{backend_error, no_transactions, redact};
use super::values::int;
use ampel::store::*;
use mongodb::bson::{self, doc, Bson, Document};
use mongodb::event::{command::CommandEvent, EventHandler};
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument};
use mongodb::sync::{Client, Collection, Database};
use mongodb::IndexModel;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub(super) struct MongoSync {
    pub(super) client: Client,
    pub(super) db: Database,
    pub(super) location: String,
    transactions: bool,
    /// Commands sent to the server (round trips), counted by the driver's
    /// command monitoring.
    commands: Arc<AtomicU64>,
}

pub(super) fn to_doc<T: Serialize>(v: &T) -> Document {
    bson::to_document(v).expect("archive documents serialise to BSON")
}

pub(super) fn to_b<T: Serialize>(v: &T) -> Bson {
    bson::to_bson(v).expect("values serialise to BSON")
}

impl MongoSync {
    /// Connects, checks the server answers, and creates AMPEL's indexes.
    /// The database is the URI's (`mongodb://host/DB`), `db`, or `ampel`.
    /// `transactions: false` starts in the op-by-op mode a server without
    /// transactions ends up in.
    pub fn connect(uri: &str, db: Option<&str>, transactions: bool) -> Result<Self, StoreError> {
        let location = redact(uri);
        let fail = |e: mongodb::error::Error| backend_error(&location, e);
        let mut options = ClientOptions::parse(uri).run().map_err(fail)?;
        let commands = Arc::new(AtomicU64::new(0));
        let counter = commands.clone();
        options.command_event_handler = Some(EventHandler::callback(move |e: CommandEvent| {
            if matches!(e, CommandEvent::Started(_)) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
        let client = Client::with_options(options).map_err(fail)?;
        let db = match db {
            Some(name) => client.database(name),
            None => client
                .default_database()
                .unwrap_or_else(|| client.database("ampel")),
        };
        db.run_command(doc! {"ping": 1}).run().map_err(fail)?;
        let a = MongoSync {
            client,
            location: format!("{location} (database {})", db.name()),
            db,
            transactions,
            commands,
        };
        a.create_indexes()?;
        Ok(a)
    }

    /// Applies `update` to the counter document `id`, creating it when
    /// missing, and returns it as updated. Two first upserts at once can
    /// collide (duplicate key 11000, or no document returned): the loser
    /// tries again and then finds the winner's document.
    fn upsert_counter(&self, id: &str, update: Document) -> Result<Document, StoreError> {
        for attempt in 1..=5 {
            let r = self
                .coll("counter")
                .find_one_and_update(doc! {"_id": id}, update.clone())
                .upsert(true)
                .return_document(ReturnDocument::After)
                .run();
            match r {
                Ok(Some(d)) => return Ok(d),
                Ok(None) => {}
                Err(e) if super::errors::is_duplicate_key(&e) => {}
                Err(e) => return Err(self.fail()(e)),
            }
            std::thread::sleep(super::errors::backoff(attempt));
        }
        Err(StoreError::Backend {
            location: self.location.clone(),
            reason: format!("counter {id:?}: upsert returned no document 5 times"),
            transient: true,
        })
    }

    /// Commands sent so far (each one round trip).
    pub fn commands_sent(&self) -> u64 {
        self.commands.load(Ordering::Relaxed)
    }

    /// Whether batches still go in transactions.
    pub fn uses_transactions(&self) -> bool {
        self.transactions
    }

    /// Drops the database (tests).
    pub fn drop_database(&self) -> Result<(), StoreError> {
        let fail = self.fail();
        self.db.drop().run().map_err(fail)
    }

    pub(super) fn fail(&self) -> impl Fn(mongodb::error::Error) -> StoreError + '_ {
        move |e| backend_error(&self.location, e)
    }

    pub(super) fn coll(&self, name: &str) -> Collection<Document> {
        self.db.collection(name)
    }

    fn create_indexes(&self) -> Result<(), StoreError> {
        let idx = |keys: Document, unique: bool| {
            IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().unique(unique).build())
                .build()
        };
        let specs: [(&str, Document, bool); 18] = [
            ("stock", doc! {"stock": 1}, true),
            ("stock", doc! {"name": 1}, false),
            ("stock", doc! {"channel": 1, "updated": 1}, false),
            ("t0", doc! {"id": 1}, true),
            ("t0", doc! {"stock": 1}, false),
            ("t1", doc! {"stock": 1, "link": 1}, true),
            ("cutout", doc! {"stock": 1, "jd": -1}, false),
            (
                "t2",
                doc! {"stock": 1, "unit": 1, "config": 1, "link": 1},
                true,
            ),
            ("t2", doc! {"code": 1, "unit": 1}, false),
            ("t2", doc! {"channel": 1}, false),
            ("t3", doc! {"stock": 1}, false),
            (
                "t3",
                doc! {"process": 1, "meta.extra.selected_at": -1},
                false,
            ),
            ("log", doc! {"run": 1}, false),
            ("log", doc! {"stock": 1}, false),
            ("event", doc! {"run": 1}, true),
            ("reaction", doc! {"id": 1}, true),
            ("reaction", doc! {"state": 1, "next_try": 1}, false),
            (
                "reaction_item",
                doc! {"destination": 1, "stock": 1, "digest": 1},
                true,
            ),
        ];
        for (c, keys, unique) in specs {
            self.coll(c)
                .create_index(idx(keys, unique))
                .run()
                .map_err(self.fail())?;
        }
        Ok(())
    }

    pub(super) fn parse<T: DeserializeOwned>(
        &self,
        collection: &'static str,
        d: Document,
    ) -> Result<T, StoreError> {
        bson::from_document(d).map_err(|e| StoreError::Corrupt {
            location: self.location.clone(),
            collection,
            reason: e.to_string(),
        })
    }

    pub(super) fn find<T: DeserializeOwned>(
        &self,
        collection: &'static str,
        filter: Document,
        sort: Document,
        limit: Option<i64>,
    ) -> Result<Vec<T>, StoreError> {
        let coll = self.coll(collection);
        let mut f = coll.find(filter).sort(sort);
        if let Some(l) = limit {
            f = f.limit(l);
        }
        self.parse_all(collection, f.run().map_err(self.fail())?)
    }

    /// The datapoints `filter` selects, ordered by id, as `p` keeps them:
    /// the server sends only the projected fields (`body.F` paths). No
    /// field, or a name MongoDB would read as a path or an operator (a `.`,
    /// a leading `$`): read whole and cut down here instead.
    fn projected(
        &self,
        filter: Document,
        p: &DataPointProjection,
    ) -> Result<Vec<DataPointDoc>, StoreError> {
        let fields = p.body_fields();
        if fields.is_empty() || fields.iter().any(|f| f.contains('.') || f.starts_with('$')) {
            return Ok(p.apply_all(self.find("t0", filter, doc! {"id": 1}, None)?));
        }
        let mut projection = doc! {"_id": 0, "id": 1, "stock": 1, "channel": 1, "tag": 1};
        for f in fields {
            projection.insert(format!("body.{f}"), 1);
        }
        self.find_projected("t0", filter, projection, doc! {"id": 1})
    }

    /// [`Self::find`] with only the fields `projection` names sent back.
    pub(super) fn find_projected<T: DeserializeOwned>(
        &self,
        collection: &'static str,
        filter: Document,
        projection: Document,
        sort: Document,
    ) -> Result<Vec<T>, StoreError> {
        let coll = self.coll(collection);
        let f = coll.find(filter).projection(projection).sort(sort);
        self.parse_all(collection, f.run().map_err(self.fail())?)
    }

    fn parse_all<T: DeserializeOwned>(
        &self,
        collection: &'static str,
        cursor: mongodb::sync::Cursor<Document>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        for d in cursor {
            out.push(self.parse(collection, d.map_err(self.fail())?)?);
        }
        Ok(out)
    }
}

#[derive(serde::Deserialize)]
struct IdTags {
    id: i64,
    #[serde(default)]
    tag: Vec<String>,
}

/// The filter a [`T2Query`] means.
fn t2_filter(q: &T2Query) -> Document {
    let mut f = Document::new();
    if let Some(s) = q.stock {
        f.insert("stock", s);
    }
    if let Some(u) = &q.unit {
        f.insert("unit", u);
    }
    if let Some(c) = q.config {
        f.insert("config", c);
    }
    if let Some(c) = q.code {
        f.insert("code", c);
    }
    if let Some(c) = &q.channel {
        f.insert("channel", c);
    }
    f
}

impl Archive for MongoSync {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn next_run_id(&mut self) -> Result<i64, StoreError> {
        let d = self.upsert_counter("run", doc! {"$inc": {"value": 1i64}})?;
        int(d.get("value")).ok_or_else(|| StoreError::Corrupt {
            location: self.location.clone(),
            collection: "counter",
            reason: format!(
                "the run counter is not a whole number: {:?}",
                d.get("value")
            ),
        })
    }

    fn archive_id(&mut self) -> Result<i64, StoreError> {
        // Drawn here, kept by the first writer: `$setOnInsert` on one key.
        let drawn = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ u64::from(std::process::id()).rotate_left(32);
        let d =
            self.upsert_counter("archive_id", doc! {"$setOnInsert": {"value": drawn as i64}})?;
        d.get_i64("value").map_err(|e| StoreError::Corrupt {
            location: self.location.clone(),
            collection: "counter",
            reason: e.to_string(),
        })
    }

    fn write(&mut self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        if self.transactions {
            match self.write_in_transaction(&ops) {
                Ok(()) => return Ok(()),
                Err(e) if no_transactions(&e) => {
                    eprintln!(
                        "warning: {} does not support transactions (not a replica set): batches are applied op by op",
                        self.location
                    );
                    self.transactions = false;
                }
                Err(e) => return Err(self.fail()(e)),
            }
        }
        self.write_op_by_op(&ops).map_err(self.fail())
    }

    fn stock(&self, stock: i64) -> Result<Option<StockDoc>, StoreError> {
        Ok(self
            .find("stock", doc! {"stock": stock}, doc! {}, Some(1))?
            .pop())
    }

    fn stock_by_name(&self, name: &str) -> Result<Option<StockDoc>, StoreError> {
        Ok(self
            .find("stock", doc! {"name": name}, doc! {}, Some(1))?
            .pop())
    }

    fn stocks(&self, q: &StockQuery) -> Result<Vec<StockDoc>, StoreError> {
        let mut f = Document::new();
        if let Some(c) = &q.channel {
            f.insert("channel", c);
        }
        let mut window = Document::new();
        if let Some(a) = q.updated_after {
            window.insert("$gte", a);
        }
        if let Some(b) = q.updated_before {
            window.insert("$lte", b);
        }
        if !window.is_empty() {
            f.insert("updated", window);
        }
        if !q.tags.is_empty() {
            f.insert("tag", doc! {"$all": to_b(&q.tags)});
        }
        self.find("stock", f, doc! {"stock": 1}, None)
    }

    fn datapoints(&self, stock: i64) -> Result<Vec<DataPointDoc>, StoreError> {
        self.find("t0", doc! {"stock": stock}, doc! {"id": 1}, None)
    }

    /// The server sends only the projected fields (see [`Self::projected`]).
    fn datapoints_projected(
        &self,
        stock: i64,
        p: &DataPointProjection,
    ) -> Result<Vec<DataPointDoc>, StoreError> {
        self.projected(doc! {"stock": stock}, p)
    }

    /// By the unique `id` index, in one query.
    fn datapoints_projected_among(
        &self,
        _stock: i64,
        ids: &[i64],
        p: &DataPointProjection,
    ) -> Result<Vec<DataPointDoc>, StoreError> {
        self.projected(doc! {"id": {"$in": ids}}, p)
    }

    fn datapoint_tags(&self, stock: i64) -> Result<Vec<(i64, Vec<String>)>, StoreError> {
        let projection = doc! {"id": 1, "tag": 1, "_id": 0};
        let found: Vec<IdTags> =
            self.find_projected("t0", doc! {"stock": stock}, projection, doc! {"id": 1})?;
        Ok(found.into_iter().map(|it| (it.id, it.tag)).collect())
    }

    fn states(&self, stock: i64) -> Result<Vec<T1Doc>, StoreError> {
        self.find("t1", doc! {"stock": stock}, doc! {"link": 1}, None)
    }

    fn state(&self, stock: i64, link: i64) -> Result<Option<T1Doc>, StoreError> {
        let key = doc! {"stock": stock, "link": link};
        Ok(self.find("t1", key, doc! {}, Some(1))?.pop())
    }

    fn cutout(&self, id: i64) -> Result<Option<CutoutDoc>, StoreError> {
        self.one_cutout(doc! {"_id": id}, doc! {})
    }

    fn latest_cutout(&self, stock: i64) -> Result<Option<CutoutDoc>, StoreError> {
        self.one_cutout(doc! {"stock": stock}, doc! {"jd": -1, "_id": -1})
    }

    fn t2(&self, q: &T2Query) -> Result<Vec<T2Doc>, StoreError> {
        self.find(
            "t2",
            t2_filter(q),
            doc! {"stock": 1, "unit": 1, "config": 1, "link": 1},
            None,
        )
    }

    fn count_t2(&self, q: &T2Query) -> Result<usize, StoreError> {
        self.coll("t2")
            .count_documents(t2_filter(q))
            .run()
            .map(|n| n as usize)
            .map_err(self.fail())
    }

    /// A `$group` by code on the server: no document comes back.
    fn t2_codes(&self) -> Result<BTreeMap<i64, u64>, StoreError> {
        let mut out = BTreeMap::new();
        for ((_, c), n) in self.t2_outcomes()? {
            *out.entry(c).or_default() += n;
        }
        Ok(out)
    }

    fn channel_counts(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        self.count_channels()
    }

    fn t2_outcomes(&self) -> Result<BTreeMap<(String, i64), u64>, StoreError> {
        self.count_t2_outcomes()
    }

    fn claim_t2(
        &mut self,
        now: f64,
        max: usize,
        units: &[String],
    ) -> Result<Vec<T2Doc>, StoreError> {
        self.claim_batch(now, max, units)
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
        let f = stock.map_or_else(Document::new, |s| doc! {"stock": s});
        self.find("t3", f, doc! {"_id": 1}, None)
    }

    fn t3_last_selected(&self, process: &str) -> Result<Option<f64>, StoreError> {
        let last: Vec<T3Doc> = self.find(
            "t3",
            doc! {"process": process, "meta.extra.selected_at": {"$exists": true}},
            doc! {"meta.extra.selected_at": -1},
            Some(1),
        )?;
        Ok(last
            .first()
            .and_then(|d| d.meta.extra.as_ref()?.get("selected_at")?.as_f64()))
    }

    fn reactions(&self, q: &ReactionQuery) -> Result<Vec<ReactionDoc>, StoreError> {
        let mut f = Document::new();
        if let Some(d) = &q.destination {
            f.insert("destination", d);
        }
        if !q.states.is_empty() {
            let s: Vec<&str> = q.states.iter().map(|s| s.name()).collect();
            f.insert("state", doc! {"$in": s});
        }
        if let Some(t) = q.due_by {
            f.insert("next_try", doc! {"$lte": t});
        }
        self.find(
            "reaction",
            f,
            doc! {"created": 1, "_id": 1},
            q.limit.map(|l| l as i64),
        )
    }

    fn claim_reaction(
        &mut self,
        destination: &str,
        now: f64,
    ) -> Result<Option<ReactionDoc>, StoreError> {
        let d = self
            .coll("reaction")
            .find_one_and_update(
                doc! {"destination": destination, "state": "pending", "next_try": {"$lte": now}},
                doc! {"$set": {"state": "sending", "updated": now}, "$inc": {"attempts": 1i64}},
            )
            .sort(doc! {"created": 1, "_id": 1})
            .return_document(ReturnDocument::After)
            .run()
            .map_err(self.fail())?;
        d.map(|d| self.parse("reaction", d)).transpose()
    }

    fn reactions_open(&self, destination: &str, now: f64) -> Result<(usize, usize), StoreError> {
        let open = doc! {"destination": destination, "state": {"$in": ["pending", "sending"]}};
        let mut due = open.clone();
        due.insert("next_try", doc! {"$lte": now});
        let count = |f: Document| {
            self.coll("reaction")
                .count_documents(f)
                .run()
                .map(|n| n as usize)
                .map_err(self.fail())
        };
        Ok((count(open)?, count(due)?))
    }

    fn reaction_items(
        &self,
        destination: &str,
        stocks: &[i64],
    ) -> Result<Vec<(i64, String)>, StoreError> {
        #[derive(serde::Deserialize)]
        struct Item {
            stock: i64,
            digest: String,
        }
        let items: Vec<Item> = self.find(
            "reaction_item",
            doc! {"destination": destination, "stock": {"$in": stocks}},
            doc! {"_id": 1},
            None,
        )?;
        Ok(items.into_iter().map(|i| (i.stock, i.digest)).collect())
    }

    fn events(&self) -> Result<Vec<EventDoc>, StoreError> {
        self.find("event", doc! {}, doc! {"run": 1}, None)
    }

    fn logs(&self, q: &LogQuery) -> Result<Vec<LogDoc>, StoreError> {
        let mut f = Document::new();
        if let Some(r) = q.run {
            f.insert("run", r);
        }
        if let Some(s) = q.stock {
            f.insert("stock", s);
        }
        if let Some(c) = &q.channel {
            f.insert("channel", c);
        }
        self.find("log", f, doc! {"_id": 1}, q.limit.map(|l| l as i64))
    }

    fn config(&self, id: i64) -> Result<Option<Json>, StoreError> {
        let d = self
            .coll("conf")
            .find_one(doc! {"_id": id})
            .run()
            .map_err(self.fail())?;
        Ok(match d.and_then(|d| d.get("config").cloned()) {
            Some(b) => Some(bson::from_bson(b).map_err(|e| StoreError::Corrupt {
                location: self.location.clone(),
                collection: "conf",
                reason: e.to_string(),
            })?),
            None => None,
        })
    }

    fn troubles(&self) -> Result<Vec<Json>, StoreError> {
        let cursor = self
            .coll("trouble")
            .find(doc! {})
            .sort(doc! {"_id": 1})
            .run()
            .map_err(self.fail())?;
        let mut out = Vec::new();
        for d in cursor {
            let d = d.map_err(self.fail())?;
            let doc = d.get("doc").cloned().unwrap_or(Bson::Null);
            out.push(bson::from_bson(doc).map_err(|e| StoreError::Corrupt {
                location: self.location.clone(),
                collection: "trouble",
                reason: e.to_string(),
            })?);
        }
        Ok(out)
    }

    fn t2_count(&self) -> Result<u64, StoreError> {
        self.coll("t2")
            .estimated_document_count()
            .run()
            .map_err(self.fail())
    }

    fn counts(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        let mut out = BTreeMap::new();
        for c in [
            "stock", "t0", "t1", "t2", "t3", "log", "event", "conf", "trouble", "reaction",
        ] {
            let n = self
                .coll(c)
                .count_documents(doc! {})
                .run()
                .map_err(self.fail())?;
            out.insert(c.to_string(), n as i64);
        }
        Ok(out)
    }
}
