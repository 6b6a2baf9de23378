//! Named topics that connections subscribe to.

use std::{collections::HashMap, sync::Arc};

use super::Sharded;
use crate::{ConnId, Connection};

/// Subscribers by topic.
#[derive(Debug)]
pub(crate) struct Topics {
    map: Sharded<Arc<str>, HashMap<ConnId, Connection>>,
}

impl Topics {
    pub(crate) fn new() -> Topics {
        Topics {
            map: Sharded::new(),
        }
    }

    /// Adds a subscriber; returns whether it is the topic's first.
    pub(crate) fn subscribe(&self, topic: &Arc<str>, conn: &Connection) -> bool {
        let mut shard = self.map.shard(&**topic);
        let subscribers = shard.entry(topic.clone()).or_default();
        subscribers.insert(conn.id(), conn.clone());
        subscribers.len() == 1
    }

    /// Removes a subscriber; returns whether it was the topic's last.
    pub(crate) fn unsubscribe(&self, topic: &str, id: ConnId) -> bool {
        let mut shard = self.map.shard(topic);
        if let Some(subscribers) = shard.get_mut(topic) {
            subscribers.remove(&id);
            if subscribers.is_empty() {
                shard.remove(topic);
                return true;
            }
        }
        false
    }

    /// Every topic with a subscriber.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn names(&self) -> Vec<Arc<str>> {
        self.map
            .each_shard()
            .flat_map(|shard| shard.keys().cloned().collect::<Vec<_>>())
            .collect()
    }

    pub(crate) fn subscriber_count(&self, topic: &str) -> usize {
        self.map.shard(topic).get(topic).map_or(0, HashMap::len)
    }

    /// Every subscriber of `topic` but `except`, cloned out so that no lock is held
    /// afterwards.
    pub(crate) fn snapshot(&self, topic: &str, except: Option<ConnId>, into: &mut Vec<Connection>) {
        if let Some(subscribers) = self.map.shard(topic).get(topic) {
            into.extend(
                subscribers
                    .values()
                    .filter(|conn| Some(conn.id()) != except)
                    .cloned(),
            );
        }
    }
}
