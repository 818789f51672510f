//! The MongoDB archive. [`MongoArchive`] owns one thread that holds the
//! driver's synchronous client ([`sync::MongoSync`]) and runs every archive
//! call there, the caller waiting for the answer.
//!
//! Why a thread: the synchronous API blocks on the driver's own tokio
//! runtime, and blocking on a runtime from a thread that already runs one
//! panics ("Cannot start a runtime from within a runtime"). The live actors
//! run on actix arbiters, which are tokio runtimes, so they could not call
//! the archive directly. A plain thread has no runtime; a caller blocked on
//! a channel is allowed anywhere (the actors that write already block on
//! their archive by design, each on its own arbiter thread).

mod batch;
mod claims;
mod counts;
mod cutouts;
mod errors;
mod statements;
mod sync;
mod values;

use ampel::store::*;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::mpsc;
use sync::MongoSync;

type Task = Box<dyn FnOnce(&mut MongoSync) + Send>;

pub struct MongoArchive {
    tasks: Option<mpsc::Sender<Task>>,
    thread: Option<std::thread::JoinHandle<()>>,
    location: String,
}

impl MongoArchive {
    /// Connects, checks the server answers, and creates AMPEL's indexes.
    /// The database is the URI's (`mongodb://host/DB`), `db`, or `ampel`.
    pub fn connect(uri: &str, db: Option<&str>) -> Result<Self, StoreError> {
        Self::open(uri, db, true)
    }

    /// Connects in the mode a server without transactions (a standalone
    /// mongod) puts the archive in after its first refusal: each op atomic
    /// on its own, in order. For testing that mode on any server.
    pub fn connect_op_by_op(uri: &str, db: Option<&str>) -> Result<Self, StoreError> {
        Self::open(uri, db, false)
    }

    /// Whether batches go in multi-document transactions (false once the
    /// server refused one with IllegalOperation, code 20).
    pub fn uses_transactions(&self) -> bool {
        self.call(|m| m.uses_transactions())
    }

    /// Commands (round trips) sent to the server since connecting:
    /// what a batch costs on the wire.
    pub fn commands_sent(&self) -> u64 {
        self.call(|m| m.commands_sent())
    }

    fn open(uri: &str, db: Option<&str>, transactions: bool) -> Result<Self, StoreError> {
        let (uri, db) = (uri.to_string(), db.map(str::to_string));
        let (tasks, inbox) = mpsc::channel::<Task>();
        let (ready, connected) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("mongo-archive".into())
            .spawn(
                move || match MongoSync::connect(&uri, db.as_deref(), transactions) {
                    Ok(mut archive) => {
                        let _ = ready.send(Ok(archive.location()));
                        for task in inbox {
                            task(&mut archive);
                        }
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                    }
                },
            )
            .map_err(|e| StoreError::Backend {
                location: "mongodb".into(),
                reason: format!("cannot start the archive thread: {e}"),
                transient: true,
            })?;
        let location = connected.recv().unwrap_or_else(|_| {
            Err(StoreError::Backend {
                location: "mongodb".into(),
                reason: "the archive thread ended while connecting".into(),
                transient: false,
            })
        })?;
        Ok(MongoArchive {
            tasks: Some(tasks),
            thread: Some(thread),
            location,
        })
    }

    /// Drops the database (tests).
    pub fn drop_database(self) -> Result<(), StoreError> {
        self.call(|m| m.drop_database())
    }

    /// Runs `f` on the archive thread and waits for its answer.
    fn call<R: Send + 'static>(&self, f: impl FnOnce(&mut MongoSync) -> R + Send + 'static) -> R {
        let (answer, result) = mpsc::sync_channel(1);
        let task: Task = Box::new(move |m| {
            let _ = answer.send(f(m));
        });
        self.tasks
            .as_ref()
            .expect("tasks live until drop")
            .send(task)
            .expect("the archive thread lives as long as its MongoArchive");
        result
            .recv()
            .expect("the archive thread answers every task (a panic there is a bug)")
    }
}

impl Drop for MongoArchive {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop; joining drops the
        // client there, outside any caller's runtime.
        self.tasks.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Archive for MongoArchive {
    fn location(&self) -> String {
        self.location.clone()
    }
    fn next_run_id(&mut self) -> Result<i64, StoreError> {
        self.call(|m| m.next_run_id())
    }
    fn archive_id(&mut self) -> Result<i64, StoreError> {
        self.call(|m| m.archive_id())
    }
    fn write(&mut self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.call(move |m| m.write(ops))
    }
    fn stock(&self, stock: i64) -> Result<Option<StockDoc>, StoreError> {
        self.call(move |m| m.stock(stock))
    }
    fn stock_by_name(&self, name: &str) -> Result<Option<StockDoc>, StoreError> {
        let name = name.to_string();
        self.call(move |m| m.stock_by_name(&name))
    }
    fn stocks(&self, q: &StockQuery) -> Result<Vec<StockDoc>, StoreError> {
        let q = q.clone();
        self.call(move |m| m.stocks(&q))
    }
    fn datapoints(&self, stock: i64) -> Result<Vec<DataPointDoc>, StoreError> {
        self.call(move |m| m.datapoints(stock))
    }
    fn datapoints_projected(
        &self,
        stock: i64,
        p: &DataPointProjection,
    ) -> Result<Vec<DataPointDoc>, StoreError> {
        let p = p.clone();
        self.call(move |m| m.datapoints_projected(stock, &p))
    }
    fn datapoints_projected_among(
        &self,
        stock: i64,
        ids: &[i64],
        p: &DataPointProjection,
    ) -> Result<Vec<DataPointDoc>, StoreError> {
        let (ids, p) = (ids.to_vec(), p.clone());
        self.call(move |m| m.datapoints_projected_among(stock, &ids, &p))
    }
    fn datapoint_tags(&self, stock: i64) -> Result<Vec<(i64, Vec<String>)>, StoreError> {
        self.call(move |m| m.datapoint_tags(stock))
    }
    fn states(&self, stock: i64) -> Result<Vec<T1Doc>, StoreError> {
        self.call(move |m| m.states(stock))
    }
    fn state(&self, stock: i64, link: i64) -> Result<Option<T1Doc>, StoreError> {
        self.call(move |m| m.state(stock, link))
    }
    fn cutout(&self, id: i64) -> Result<Option<CutoutDoc>, StoreError> {
        self.call(move |m| m.cutout(id))
    }
    fn latest_cutout(&self, stock: i64) -> Result<Option<CutoutDoc>, StoreError> {
        self.call(move |m| m.latest_cutout(stock))
    }
    fn t2(&self, q: &T2Query) -> Result<Vec<T2Doc>, StoreError> {
        let q = q.clone();
        self.call(move |m| m.t2(&q))
    }

    fn count_t2(&self, q: &T2Query) -> Result<usize, StoreError> {
        let q = q.clone();
        self.call(move |m| m.count_t2(&q))
    }
    fn t2_codes(&self) -> Result<BTreeMap<i64, u64>, StoreError> {
        self.call(|m| m.t2_codes())
    }
    fn t2_outcomes(&self) -> Result<BTreeMap<(String, i64), u64>, StoreError> {
        self.call(|m| m.t2_outcomes())
    }
    fn channel_counts(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        self.call(|m| m.channel_counts())
    }
    fn claim_t2(
        &mut self,
        now: f64,
        max: usize,
        units: &[String],
    ) -> Result<Vec<T2Doc>, StoreError> {
        let units = units.to_vec();
        self.call(move |m| m.claim_t2(now, max, &units))
    }
    fn claim_t2_keys(
        &mut self,
        keys: &[T2Key],
        now: f64,
        steal_running: bool,
    ) -> Result<Vec<T2Doc>, StoreError> {
        let keys = keys.to_vec();
        self.call(move |m| m.claim_t2_keys(&keys, now, steal_running))
    }
    fn t3(&self, stock: Option<i64>) -> Result<Vec<T3Doc>, StoreError> {
        self.call(move |m| m.t3(stock))
    }
    fn t3_last_selected(&self, process: &str) -> Result<Option<f64>, StoreError> {
        let process = process.to_string();
        self.call(move |m| m.t3_last_selected(&process))
    }

    fn reactions(&self, q: &ReactionQuery) -> Result<Vec<ReactionDoc>, StoreError> {
        let q = q.clone();
        self.call(move |m| m.reactions(&q))
    }
    fn claim_reaction(
        &mut self,
        destination: &str,
        now: f64,
    ) -> Result<Option<ReactionDoc>, StoreError> {
        let destination = destination.to_string();
        self.call(move |m| m.claim_reaction(&destination, now))
    }
    fn reactions_open(&self, destination: &str, now: f64) -> Result<(usize, usize), StoreError> {
        let destination = destination.to_string();
        self.call(move |m| m.reactions_open(&destination, now))
    }
    fn reaction_items(
        &self,
        destination: &str,
        stocks: &[i64],
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let (destination, stocks) = (destination.to_string(), stocks.to_vec());
        self.call(move |m| m.reaction_items(&destination, &stocks))
    }
    fn events(&self) -> Result<Vec<EventDoc>, StoreError> {
        self.call(|m| m.events())
    }
    fn logs(&self, q: &LogQuery) -> Result<Vec<LogDoc>, StoreError> {
        let q = q.clone();
        self.call(move |m| m.logs(&q))
    }
    fn config(&self, id: i64) -> Result<Option<Json>, StoreError> {
        self.call(move |m| m.config(id))
    }
    fn troubles(&self) -> Result<Vec<Json>, StoreError> {
        self.call(|m| m.troubles())
    }
    fn counts(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        self.call(|m| m.counts())
    }
    fn t2_count(&self) -> Result<u64, StoreError> {
        self.call(|m| m.t2_count())
    }
}
