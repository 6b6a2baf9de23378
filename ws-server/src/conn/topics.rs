//! A connection's topic subscriptions.

use std::sync::{Arc, MutexGuard};

use super::Connection;
use crate::{Message, backplane::Scope, registry::Delivery};

/// The topics a connection subscribes to.
#[derive(Debug, Default)]
pub(super) struct Subscriptions {
    topics: Vec<Arc<str>>,
    /// The connection has ended: no more subscriptions.
    gone: bool,
}

impl Connection {
    fn subscriptions(&self) -> MutexGuard<'_, Subscriptions> {
        crate::lock::lock(&self.inner.subscriptions)
    }

    /// Subscribes this connection to `topic`, so that it receives what is published there.
    /// Returns `false` if it was subscribed already or has ended. A connection leaves all
    /// its topics when it ends.
    ///
    /// ```
    /// use ws_server::{Connection, Handler, Text, ws_resource};
    ///
    /// #[ws_resource("/prices")]
    /// #[derive(Default)]
    /// struct Prices;
    ///
    /// impl Handler for Prices {
    ///     async fn on_text(&mut self, conn: &Connection, symbol: Text) {
    ///         conn.subscribe(&format!("price:{symbol}"));
    ///     }
    /// }
    ///
    /// // Elsewhere: `server.publish("price:ACME", "101.5").await;`
    /// ```
    pub fn subscribe(&self, topic: &str) -> bool {
        let mut subscriptions = self.subscriptions();
        if subscriptions.gone || subscriptions.topics.iter().any(|t| &**t == topic) {
            return false;
        }
        let topic: Arc<str> = topic.into();
        let hub = self.server().hub();
        if hub.topics.subscribe(&topic, self) {
            hub.topic_added();
        }
        subscriptions.topics.push(topic);
        true
    }

    /// Unsubscribes this connection from `topic`; returns `false` if it was not subscribed.
    pub fn unsubscribe(&self, topic: &str) -> bool {
        let mut subscriptions = self.subscriptions();
        let Some(index) = subscriptions.topics.iter().position(|t| &**t == topic) else {
            return false;
        };
        let topic = subscriptions.topics.swap_remove(index);
        self.server().hub().leave_topic(&topic, self.id());
        true
    }

    /// The topics this connection subscribes to.
    pub fn topics(&self) -> Vec<String> {
        self.subscriptions()
            .topics
            .iter()
            .map(|topic| topic.to_string())
            .collect()
    }

    /// Sends `message` to every subscriber of `topic`, this connection included if it is
    /// one; see [`ServerHandle::publish`](crate::ServerHandle::publish).
    pub async fn publish(&self, topic: &str, message: impl Into<Message>) -> Delivery {
        self.publish_except(topic, message.into(), None).await
    }

    /// Sends `message` to every subscriber of `topic` except this connection.
    pub async fn publish_to_others(&self, topic: &str, message: impl Into<Message>) -> Delivery {
        self.publish_except(topic, message.into(), Some(self)).await
    }

    async fn publish_except(
        &self,
        topic: &str,
        message: Message,
        except: Option<&Connection>,
    ) -> Delivery {
        self.server()
            .hub()
            .fan_out(Scope::Topic(topic), message, except.map(Connection::id))
            .await
    }

    /// Leaves every topic and refuses new subscriptions: the connection has ended.
    pub(crate) fn leave_topics(&self) {
        let mut subscriptions = self.subscriptions();
        subscriptions.gone = true;
        for topic in subscriptions.topics.drain(..) {
            self.server().hub().leave_topic(&topic, self.id());
        }
    }
}
