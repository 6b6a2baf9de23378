//! Named topics that connections subscribe to: who hears each topic, and what each
//! connection hears, kept together so that they never disagree.

use std::{collections::HashMap, sync::Arc};

use super::{ConnId, Connection, sharded::Sharded};

/// Subscribers by topic, and topics by subscriber. Locks are taken in one order: a
/// connection's shard, then a topic's.
#[derive(Debug)]
pub(crate) struct Topics {
    by_topic: Sharded<Arc<str>, HashMap<ConnId, Connection>>,
    /// Every open connection, with its topics; a connection that has ended has no entry
    /// and cannot subscribe.
    by_conn: Sharded<ConnId, Vec<Arc<str>>>,
}

/// What a subscription change did to the set of topics with subscribers, least first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Change {
    /// Nothing: already subscribed, not subscribed, or the connection has ended.
    None,
    /// The connection's subscriptions changed; the set of topics did not.
    Member,
    /// A topic got its first subscriber or lost its last.
    Topic,
}

impl Topics {
    pub(crate) fn new() -> Topics {
        Topics {
            by_topic: Sharded::new(),
            by_conn: Sharded::new(),
        }
    }

    /// A connection opened: from now on it may subscribe.
    pub(crate) fn open(&self, id: ConnId) {
        self.by_conn.shard(&id).insert(id, Vec::new());
    }

    pub(crate) fn subscribe(&self, conn: &Connection, topic: &str) -> Change {
        let id = conn.id();
        let mut mine = self.by_conn.shard(&id);
        let Some(topics) = mine.get_mut(&id) else {
            return Change::None;
        };
        if topics.iter().any(|t| &**t == topic) {
            return Change::None;
        }
        let topic: Arc<str> = topic.into();
        let mut shard = self.by_topic.shard(&*topic);
        let subscribers = shard.entry(topic.clone()).or_default();
        subscribers.insert(id, conn.clone());
        let first = subscribers.len() == 1;
        topics.push(topic);
        if first { Change::Topic } else { Change::Member }
    }

    pub(crate) fn unsubscribe(&self, id: ConnId, topic: &str) -> Change {
        let mut mine = self.by_conn.shard(&id);
        let Some(topics) = mine.get_mut(&id) else {
            return Change::None;
        };
        let Some(index) = topics.iter().position(|t| &**t == topic) else {
            return Change::None;
        };
        topics.swap_remove(index);
        self.leave(id, topic)
    }

    /// A connection ended: it leaves every topic and cannot subscribe again.
    pub(crate) fn close(&self, id: ConnId) -> Change {
        let Some(topics) = self.by_conn.shard(&id).remove(&id) else {
            return Change::None;
        };
        topics
            .iter()
            .map(|topic| self.leave(id, topic))
            .max()
            .unwrap_or(Change::None)
    }

    fn leave(&self, id: ConnId, topic: &str) -> Change {
        let mut shard = self.by_topic.shard(topic);
        let Some(subscribers) = shard.get_mut(topic) else {
            return Change::None;
        };
        subscribers.remove(&id);
        if subscribers.is_empty() {
            shard.remove(topic);
            return Change::Topic;
        }
        Change::Member
    }

    /// The topics connection `id` subscribes to.
    pub(crate) fn of(&self, id: ConnId) -> Vec<String> {
        self.by_conn
            .shard(&id)
            .get(&id)
            .map(|topics| topics.iter().map(|topic| topic.to_string()).collect())
            .unwrap_or_default()
    }

    /// Every topic with a subscriber.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn names(&self) -> Vec<Arc<str>> {
        self.by_topic
            .each_shard()
            .flat_map(|shard| shard.keys().cloned().collect::<Vec<_>>())
            .collect()
    }

    pub(crate) fn subscriber_count(&self, topic: &str) -> usize {
        self.by_topic
            .shard(topic)
            .get(topic)
            .map_or(0, HashMap::len)
    }

    /// Every subscriber of `topic` but `except`, cloned out so that no lock is held
    /// afterwards.
    pub(crate) fn snapshot(&self, topic: &str, except: Option<ConnId>, into: &mut Vec<Connection>) {
        if let Some(subscribers) = self.by_topic.shard(topic).get(topic) {
            into.extend(
                subscribers
                    .values()
                    .filter(|conn| Some(conn.id()) != except)
                    .cloned(),
            );
        }
    }
}
