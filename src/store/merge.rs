//! How a [`WriteOp`] combines with the stored document: the
//! semantics every archive backend must implement (MongoDB with `$addToSet`
//! and `$push`, SQLite by applying these functions in a transaction).

use super::*;

fn add_all(set: &mut Vec<String>, items: &[String]) {
    for i in items {
        if !set.contains(i) {
            set.push(i.clone());
        }
    }
}

pub fn datapoint(stored: Option<DataPointDoc>, new: DataPointDoc) -> DataPointDoc {
    match stored {
        None => new,
        Some(mut d) => {
            for s in new.stock {
                if !d.stock.contains(&s) {
                    d.stock.push(s);
                }
            }
            add_all(&mut d.channel, &new.channel);
            add_all(&mut d.tag, &new.tag);
            d.meta.extend(new.meta);
            d
        }
    }
}

pub fn stock(
    stored: Option<StockDoc>,
    stock: i64,
    channel: &str,
    names: &[String],
    tags: &[String],
    journal: JournalEntry,
) -> StockDoc {
    let ts = journal.ts;
    let mut d = stored.unwrap_or(StockDoc {
        stock,
        channel: Vec::new(),
        tag: Vec::new(),
        name: Vec::new(),
        journal: Vec::new(),
        ts: Default::default(),
        updated: ts,
    });
    add_all(&mut d.channel, &[channel.to_string()]);
    add_all(&mut d.name, names);
    add_all(&mut d.tag, tags);
    d.journal.push(journal);
    d.ts.entry(channel.to_string())
        .and_modify(|t| t.upd = ts)
        .or_insert(ChannelTimes { tied: ts, upd: ts });
    d.updated = ts;
    d
}

pub fn state(stored: Option<T1Doc>, new: T1Doc) -> T1Doc {
    match stored {
        None => new,
        Some(mut d) => {
            add_all(&mut d.channel, &new.channel);
            add_all(&mut d.tag, &new.tag);
            d.meta.extend(new.meta);
            d
        }
    }
}

/// A ticket for an existing document adds its channels (and, when the
/// document already has a result, nothing is recomputed).
pub fn t2_ticket(stored: Option<T2Doc>, new: T2Doc) -> T2Doc {
    match stored {
        None => new,
        Some(mut d) => {
            add_all(&mut d.channel, &new.channel);
            add_all(&mut d.tag, &new.tag);
            d
        }
    }
}

pub fn t2_result(
    mut d: T2Doc,
    code: i64,
    body: Option<Json>,
    meta: MetaRecord,
    trials: u32,
    retry_after: Option<f64>,
) -> T2Doc {
    d.code = code;
    if let Some(b) = body {
        d.body.push(b);
    }
    d.meta.push(meta);
    d.trials = trials;
    d.retry_after = retry_after;
    d
}

/// Whether a T2 document may be claimed now.
pub fn claimable(d: &T2Doc, now: f64) -> bool {
    (d.code == code::NEW || d.code == code::RERUN_REQUESTED)
        && d.retry_after.is_none_or(|t| t <= now)
}

/// A T2 document taken by a worker: RUNNING, stamped with the claim's
/// time (so a dead worker's claims can be taken over).
pub fn claim_t2(d: &mut T2Doc, now: f64) {
    d.code = code::RUNNING;
    d.claimed_at = Some(now);
}

/// A delivery step: the new state, attempts made, when to try next and the
/// last error (kept when the step brings none, so a delivered reaction
/// still shows what it went through).
pub fn reaction_state(
    d: &mut ReactionDoc,
    state: ReactionState,
    attempts: u32,
    next_try: f64,
    error: Option<String>,
    ts: f64,
) {
    d.state = state;
    d.attempts = attempts;
    d.next_try = next_try;
    if error.is_some() {
        d.error = error;
    }
    d.updated = ts;
}

/// A failed (or uncertain) reaction made pending again, its attempts
/// counted afresh.
pub fn rearm_reaction(d: &mut ReactionDoc, ts: f64) {
    d.state = ReactionState::Pending;
    d.attempts = 0;
    d.next_try = ts;
    d.updated = ts;
}

/// A reaction taken by a courier for an attempt.
pub fn claim_reaction(d: &mut ReactionDoc, now: f64) {
    d.state = ReactionState::Sending;
    d.attempts += 1;
    d.updated = now;
}
