//! The cluster in Redis: each node's presence record (a hash of its connections that
//! expires unless the node keeps renewing it), the claims its connections hold (keys that
//! expire the same way), and the index of nodes.
//!
//! | key | what |
//! | --- | --- |
//! | `ws-server:nodes` | set of node ids (an index; members whose record is gone are dropped on reading) |
//! | `ws-server:presence:{node}` | hash: connection id → `path \n query \n protocol`; expires after the TTL |
//! | `ws-server:claim:{name}` | `{node}:{conn}`; expires after the TTL |
//!
//! A node renews its keys every third of the TTL, so one that dies without a goodbye drops
//! out within the TTL. One that loses Redis and comes back writes them all again.

use std::{
    collections::HashMap,
    mem,
    sync::{Mutex, Weak},
    time::Duration,
};

use redis::{Client, aio::MultiplexedConnection};
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use super::{Inbound, Record};
use crate::lock::lock;

const NODES: &str = "ws-server:nodes";

pub(crate) fn presence_key(node: u64) -> String {
    format!("ws-server:presence:{node:016x}")
}

fn claim_key(name: &str) -> String {
    format!("ws-server:claim:{name}")
}

fn holder(node: u64, conn: u64) -> String {
    format!("{node:016x}:{conn}")
}

/// Deletes a claim only if it is still the releasing connection's.
const RELEASE: &str =
    r"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/// What changed locally and is not in Redis yet: bounded by the live connections (an open
/// and its close cancel out) and by the claims given up.
#[derive(Debug, Default)]
struct Changes {
    /// Connection id → its record's value to write, or `None` to delete it.
    conns: HashMap<u64, Option<String>>,
    released: Vec<String>,
}

/// This node's presence, kept in Redis by [`keep`].
#[derive(Debug)]
pub(crate) struct Presence {
    node: u64,
    ttl: Duration,
    changes: Mutex<Changes>,
    wake: Notify,
}

impl Presence {
    pub(crate) fn new(node: u64, ttl: Duration) -> Presence {
        Presence {
            node,
            ttl,
            changes: Mutex::new(Changes::default()),
            wake: Notify::new(),
        }
    }

    pub(crate) fn opened(&self, record: &Record) {
        lock(&self.changes)
            .conns
            .insert(record.id, Some(record.value()));
        self.wake.notify_one();
    }

    pub(crate) fn closed(&self, id: u64) {
        let mut changes = lock(&self.changes);
        if let Some(Some(_)) = changes.conns.get(&id) {
            // Opened and closed before it was written: nothing to write.
            changes.conns.remove(&id);
        } else {
            changes.conns.insert(id, None);
        }
        drop(changes);
        self.wake.notify_one();
    }

    pub(crate) fn released(&self, name: &str, conn: u64) {
        lock(&self.changes)
            .released
            .push(format!("{name}\n{}", holder(self.node, conn)));
        self.wake.notify_one();
    }

    /// Claims `name` for `conn`: `true` if it was free or is `conn`'s already.
    pub(crate) async fn claim(
        &self,
        redis: &mut MultiplexedConnection,
        name: &str,
        conn: u64,
    ) -> redis::RedisResult<bool> {
        let key = claim_key(name);
        let me = holder(self.node, conn);
        let set: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(&me)
            .arg("NX")
            .arg("PX")
            .arg(millis(self.ttl))
            .query_async(redis)
            .await?;
        if set.is_some() {
            return Ok(true);
        }
        let current: Option<String> = redis::cmd("GET").arg(&key).query_async(redis).await?;
        Ok(current.as_deref() == Some(me.as_str()))
    }

    /// The connections of every other node, with their node: one round trip for the index,
    /// one for every record.
    pub(crate) async fn others(
        &self,
        redis: &mut MultiplexedConnection,
    ) -> redis::RedisResult<Vec<(u64, Record)>> {
        let nodes = self.other_nodes(redis).await?;
        if nodes.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for node in &nodes {
            pipe.cmd("HGETALL").arg(presence_key(*node));
        }
        let hashes: Vec<HashMap<u64, String>> = pipe.query_async(redis).await?;
        // Nodes without a record: dead, or live with no connection (those add themselves
        // back at their next renewal). Dropped, so that dead nodes do not pile up.
        let empty: Vec<String> = nodes
            .iter()
            .zip(&hashes)
            .filter(|(_, hash)| hash.is_empty())
            .map(|(node, _)| format!("{node:016x}"))
            .collect();
        if !empty.is_empty() {
            let pruned: redis::RedisResult<i64> = redis::cmd("SREM")
                .arg(NODES)
                .arg(&empty)
                .query_async(redis)
                .await;
            if let Err(error) = pruned {
                debug!(%error, "pruning the node index failed");
            }
        }
        let mut all = Vec::new();
        for (node, hash) in nodes.into_iter().zip(hashes) {
            all.extend(
                hash.into_iter()
                    .filter_map(|(id, value)| Record::parse(id, &value))
                    .map(|record| (node, record)),
            );
        }
        Ok(all)
    }

    /// How many connections every other node has.
    pub(crate) async fn count_others(
        &self,
        redis: &mut MultiplexedConnection,
    ) -> redis::RedisResult<usize> {
        let nodes = self.other_nodes(redis).await?;
        if nodes.is_empty() {
            return Ok(0);
        }
        let mut pipe = redis::pipe();
        for node in &nodes {
            pipe.cmd("HLEN").arg(presence_key(*node));
        }
        let counts: Vec<usize> = pipe.query_async(redis).await?;
        Ok(counts.into_iter().sum())
    }

    async fn other_nodes(&self, redis: &mut MultiplexedConnection) -> redis::RedisResult<Vec<u64>> {
        let members: Vec<String> = redis::cmd("SMEMBERS").arg(NODES).query_async(redis).await?;
        Ok(members
            .iter()
            .filter_map(|node| u64::from_str_radix(node, 16).ok())
            .filter(|node| *node != self.node)
            .collect())
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Keeps this node's presence and claims in Redis: writes the changes as they come,
/// renews the keys every third of the TTL, and writes everything again after a reconnection.
pub(crate) async fn keep(
    client: Client,
    hub: Weak<dyn Inbound>,
    presence: std::sync::Arc<Presence>,
) {
    let mut redis: Option<MultiplexedConnection> = None;
    let mut synced = false;
    let mut renew = tokio::time::interval(presence.ttl / 3);
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Every key is renewed on the timer; a change renews only the presence record.
        let renewal = tokio::select! {
            _ = renew.tick() => Renewal::All,
            () = presence.wake.notified() => Renewal::Record,
        };
        let Some(hub) = hub.upgrade() else { return };
        if redis.is_none() {
            redis = super::redis::connect(&client).await;
            synced = false;
        }
        let Some(conn) = redis.as_mut() else { continue };
        let written = if synced {
            write_changes(conn, &presence, hub.as_ref(), renewal).await
        } else {
            write_all(conn, &presence, hub.as_ref()).await
        };
        match written {
            Ok(()) if !synced => {
                synced = true;
                info!("cluster presence registered");
            }
            Ok(()) => {}
            Err(error) => {
                warn!(%error, "writing the cluster presence to Redis failed; will write it all again");
                redis = None;
            }
        }
    }
}

/// Which of this node's keys a write renews.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Renewal {
    /// The presence record alone: what a change touches anyway.
    Record,
    /// Every key, the claims and the node index included: on the timer.
    All,
}

/// What changed since the last write, and the renewal of the keys.
async fn write_changes(
    redis: &mut MultiplexedConnection,
    presence: &Presence,
    hub: &dyn Inbound,
    renewal: Renewal,
) -> redis::RedisResult<()> {
    let changes = mem::take(&mut *lock(&presence.changes));
    let key = presence_key(presence.node);
    let mut pipe = redis::pipe();
    for (id, value) in &changes.conns {
        match value {
            Some(value) => pipe.cmd("HSET").arg(&key).arg(id).arg(value).ignore(),
            None => pipe.cmd("HDEL").arg(&key).arg(id).ignore(),
        };
    }
    renew(&mut pipe, presence, hub, renewal);
    let result = pipe.query_async::<()>(redis).await;
    if result.is_err() {
        // Written again in full on reconnection; releases must not be lost.
        lock(&presence.changes).released.extend(changes.released);
        return result;
    }
    for released in changes.released {
        let Some((name, me)) = released.split_once('\n') else {
            continue;
        };
        let deleted: redis::RedisResult<i64> = redis::cmd("EVAL")
            .arg(RELEASE)
            .arg(1)
            .arg(claim_key(name))
            .arg(me)
            .query_async(redis)
            .await;
        if let Err(error) = deleted {
            debug!(%error, name, "releasing a claim failed; it expires with the TTL");
        }
    }
    Ok(())
}

/// Every local connection and claim, written afresh (after a reconnection: Redis may have
/// restarted empty).
async fn write_all(
    redis: &mut MultiplexedConnection,
    presence: &Presence,
    hub: &dyn Inbound,
) -> redis::RedisResult<()> {
    // Read after the changes are taken: what changes from now on is written next time.
    let released = mem::take(&mut *lock(&presence.changes)).released;
    let records = hub.records();
    let key = presence_key(presence.node);
    let mut pipe = redis::pipe();
    pipe.cmd("DEL").arg(&key).ignore();
    for record in &records {
        pipe.cmd("HSET")
            .arg(&key)
            .arg(record.id)
            .arg(record.value())
            .ignore();
    }
    for (name, conn) in hub.claims() {
        // Taken back where no one else took it meanwhile.
        pipe.cmd("SET")
            .arg(claim_key(&name))
            .arg(holder(presence.node, conn))
            .arg("NX")
            .arg("PX")
            .arg(millis(presence.ttl))
            .ignore();
    }
    renew(&mut pipe, presence, hub, Renewal::All);
    let result = pipe.query_async::<()>(redis).await;
    lock(&presence.changes).released.extend(released);
    result
}

/// Keeps this node's keys alive for another TTL.
fn renew(pipe: &mut redis::Pipeline, presence: &Presence, hub: &dyn Inbound, renewal: Renewal) {
    let ttl = millis(presence.ttl);
    pipe.cmd("PEXPIRE")
        .arg(presence_key(presence.node))
        .arg(ttl)
        .ignore();
    if renewal == Renewal::Record {
        return;
    }
    pipe.cmd("SADD")
        .arg(NODES)
        .arg(format!("{:016x}", presence.node))
        .ignore();
    for (name, _) in hub.claims() {
        pipe.cmd("PEXPIRE").arg(claim_key(&name)).arg(ttl).ignore();
    }
}
