//! Topics with history: publishing through the history, and connections that subscribe
//! from an offset catching up on what they missed before they hear the live messages.
//!
//! Every node receives a topic's recorded messages in the history's order (Redis adds
//! and publishes each in one step), but later than Redis has them. A connection catching
//! up is registered first, and the messages that arrive from then on are held for it.
//! Once this node is subscribed, the history is read, and the same step sends this node
//! a marker that comes back after every message the reading saw. When both the reading
//! and the marker are in, what the history has after the offset is sent, then what was
//! held and is newer, and the connection joins the topic's subscribers: a message that
//! arrives later is newer than all it was sent. Holding, finishing and delivering take
//! one lock, so a message is either held or delivered to the joined connection.

use std::{
    collections::HashMap,
    io,
    sync::{Arc, MutexGuard},
    time::Duration,
};

use tokio::sync::oneshot;
use tracing::debug;

use super::{ConnId, Connection, Delivery, Hub, inbound::MAX_BACKLOG};
use crate::{
    History, Message, Offset, Recovery,
    backplane::{Recorded, Scope},
    lock::lock,
    outbox::Outgoing,
};

/// How long a connection waits for the history to be read and its marker to come back.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(10);

/// The connections catching up, by topic.
pub(super) type CatchUps = HashMap<Arc<str>, Vec<CatchUp>>;

/// A connection catching up on a topic, with the messages held for it.
pub(super) struct CatchUp {
    conn: Connection,
    held: Vec<(Offset, Arc<Outgoing>)>,
    stage: Stage,
}

/// Which of the reading and the marker are in.
enum Stage {
    Waiting,
    /// The marker came back before the connection was sent what it missed.
    Marked,
    /// The connection was sent what it missed, up to `after`: it joins when the marker
    /// comes back, and `done` is told.
    Sent {
        after: Option<Offset>,
        recovery: Recovery,
        done: oneshot::Sender<Recovery>,
    },
}

impl std::fmt::Debug for CatchUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatchUp")
            .field("conn", &self.conn.id())
            .field("held", &self.held.len())
            .finish()
    }
}

impl Hub {
    /// The history of `topic`: the first configured whose prefix it starts with.
    pub(crate) fn history_of(&self, topic: &str) -> Option<&History> {
        let bound = self.bound.get()?;
        bound
            .histories
            .iter()
            .find(|(prefix, _)| topic.starts_with(prefix.as_str()))
            .map(|(_, history)| history)
    }

    /// Publishes `message` on `topic`, which has `history`: every node, this one
    /// included, delivers it when Redis sends it back with its offset.
    pub(super) async fn record(
        &self,
        topic: &str,
        history: &History,
        message: Message,
        except: Option<ConnId>,
    ) -> Delivery {
        let Some(backplane) = self.backplane.get() else {
            return self.deliver(Scope::Topic(topic), message, except).await;
        };
        let except = except.map(ConnId::as_u64);
        match backplane.append(topic, history, &message, except).await {
            Ok(offset) => Delivery::recorded(offset),
            Err(error) => {
                tracing::warn!(%error, topic, "recording a message failed: it was not published");
                Delivery::default()
            }
        }
    }

    /// Subscribes `conn` to `topic`, first sending what was published after `since`.
    pub(crate) async fn subscribe_since(
        &self,
        conn: &Connection,
        topic: &str,
        since: Option<&Offset>,
    ) -> io::Result<Recovery> {
        let (Some(history), Some(backplane)) = (self.history_of(topic), self.backplane.get())
        else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("topic `{topic}` has no history (see `Builder::topic_history`)"),
            ));
        };
        if self.topics.of(conn.id()).iter().any(|t| t == topic) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("already subscribed to `{topic}`"),
            ));
        }
        let mut catching_up = CatchingUp::start(self, conn, topic)?;
        backplane.following(topic).await?;
        let from = since.map(|offset| offset.id);
        let count = history.max_len + 1;
        let span = backplane
            .range(topic, from, count, conn.id().as_u64())
            .await?;
        let (recovery, after) = span.outcome(since);
        if let (Recovery::Recovered { .. }, Some(since)) = (recovery, since) {
            // Waits for room as the connection's policy says: a recovery is a burst, and
            // the messages held meanwhile wait behind it.
            for (offset, message) in span.missed_since(*since) {
                let out = Outgoing::new(history.present(&offset, message));
                let _ = conn.outbox().push(&out).await;
            }
        }
        let done = {
            let mut catch_ups = lock(&self.catch_ups);
            let Some(catch_up) = find(&mut catch_ups, topic, conn.id()) else {
                return Err(io::Error::other("catching up was cut short"));
            };
            if let Stage::Marked = catch_up.stage {
                self.join(catch_ups, topic, conn.id(), after.as_ref());
                catching_up.finished = true;
                return Ok(recovery);
            }
            let (done, answer) = oneshot::channel();
            catch_up.stage = Stage::Sent {
                after,
                recovery,
                done,
            };
            answer
        };
        match tokio::time::timeout(CATCH_UP_TIMEOUT, done).await {
            Ok(Ok(recovery)) => {
                catching_up.finished = true;
                Ok(recovery)
            }
            _ => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the end of the history did not come back through Redis",
            )),
        }
    }

    /// The marker sent after reading `topic`'s history for `conn` came back: every
    /// message the reading saw has been received.
    pub(super) fn caught_up(&self, conn: ConnId, topic: &str) {
        let mut catch_ups = lock(&self.catch_ups);
        let Some(catch_up) = find(&mut catch_ups, topic, conn) else {
            return;
        };
        match std::mem::replace(&mut catch_up.stage, Stage::Marked) {
            Stage::Sent {
                after,
                recovery,
                done,
            } => {
                self.join(catch_ups, topic, conn, after.as_ref());
                let _ = done.send(recovery);
            }
            Stage::Waiting | Stage::Marked => {}
        }
    }

    /// Sends `conn` what was held for it after `after`, and makes it a subscriber of
    /// `topic`; the backplane follows once the catch-ups' lock is released.
    fn join(
        &self,
        mut catch_ups: MutexGuard<'_, CatchUps>,
        topic: &str,
        conn: ConnId,
        after: Option<&Offset>,
    ) {
        let Some(CatchUp { conn, held, .. }) = take(&mut catch_ups, topic, conn) else {
            return;
        };
        for (offset, out) in held {
            if is_after(&offset, after) {
                let _ = self.push_in_order(&conn, &out);
            }
        }
        debug!(conn = %conn.id(), topic, "subscribed from the history");
        let change = self.topics.subscribe(&conn, topic);
        drop(catch_ups);
        self.topics_changed(change);
    }

    /// Delivers a message of a topic with history to its subscribers, holding it for
    /// the connections catching up.
    pub(super) fn deliver_recorded_here(
        &self,
        topic: &str,
        recorded: Recorded,
        message: Message,
    ) -> usize {
        if !self.advance(topic, recorded.offset) {
            return 0;
        }
        let message = match self.history_of(topic) {
            Some(history) => history.present(&recorded.offset, message),
            None => message,
        };
        let out = Arc::new(Outgoing::new(message));
        let except = recorded.except.map(ConnId::new);
        let mut missed = 0;
        let recipients = {
            let mut catch_ups = lock(&self.catch_ups);
            for catch_up in catch_ups.get_mut(topic).into_iter().flatten() {
                if Some(catch_up.conn.id()) == except {
                    continue;
                }
                if catch_up.held.len() < MAX_BACKLOG {
                    catch_up.held.push((recorded.offset, out.clone()));
                } else {
                    missed += 1;
                }
            }
            self.recipients(Scope::Topic(topic), except)
        };
        let mut delivery = Delivery::default();
        for conn in &recipients {
            delivery.count(self.push_in_order(conn, &out));
        }
        missed + delivery.missed()
    }

    /// Notes that this node delivers `offset` of `topic`; `false` if it delivered it
    /// already (read from the history after Redis came back, then received again).
    fn advance(&self, topic: &str, offset: Offset) -> bool {
        let mut positions = lock(&self.positions);
        match positions.get_mut(topic) {
            Some(last) if !is_after(&offset, Some(last)) => false,
            Some(last) => {
                *last = offset;
                true
            }
            None => {
                positions.insert(topic.into(), offset);
                true
            }
        }
    }

    /// For each topic with history this node follows: the last message it delivered, and
    /// how many messages the history keeps.
    pub(super) fn history_positions(&self) -> Vec<(Arc<str>, Offset, usize)> {
        lock(&self.positions)
            .iter()
            .map(|(topic, last)| {
                let max_len = self.history_of(topic).map_or(0, |history| history.max_len);
                (topic.clone(), *last, max_len)
            })
            .collect()
    }

    /// Topics that connections are catching up on.
    pub(super) fn catch_up_topics(&self) -> Vec<Arc<str>> {
        lock(&self.catch_ups).keys().cloned().collect()
    }
}

fn find<'a>(catch_ups: &'a mut CatchUps, topic: &str, conn: ConnId) -> Option<&'a mut CatchUp> {
    catch_ups
        .get_mut(topic)?
        .iter_mut()
        .find(|catch_up| catch_up.conn.id() == conn)
}

fn take(catch_ups: &mut CatchUps, topic: &str, conn: ConnId) -> Option<CatchUp> {
    let waiting = catch_ups.get_mut(topic)?;
    let index = waiting.iter().position(|c| c.conn.id() == conn)?;
    let catch_up = waiting.swap_remove(index);
    if waiting.is_empty() {
        catch_ups.remove(topic);
    }
    Some(catch_up)
}

/// A connection catching up on a topic; if dropped before it finishes (its task ended,
/// or reading the history failed), it stops holding messages.
struct CatchingUp<'a> {
    hub: &'a Hub,
    conn: ConnId,
    topic: &'a str,
    finished: bool,
}

impl<'a> CatchingUp<'a> {
    fn start(hub: &'a Hub, conn: &Connection, topic: &'a str) -> io::Result<CatchingUp<'a>> {
        {
            let mut catch_ups = lock(&hub.catch_ups);
            if find(&mut catch_ups, topic, conn.id()).is_some() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("already subscribing to `{topic}`"),
                ));
            }
            let catch_up = CatchUp {
                conn: conn.clone(),
                held: Vec::new(),
                stage: Stage::Waiting,
            };
            catch_ups.entry(topic.into()).or_default().push(catch_up);
        }
        hub.follow_topics();
        Ok(CatchingUp {
            hub,
            conn: conn.id(),
            topic,
            finished: false,
        })
    }
}

impl Drop for CatchingUp<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let _ = take(&mut lock(&self.hub.catch_ups), self.topic, self.conn);
            self.hub.follow_topics();
        }
    }
}

/// Whether a held message comes after what was sent or is known (`after`): one of
/// another epoch is newer than the history read.
fn is_after(offset: &Offset, after: Option<&Offset>) -> bool {
    after.is_none_or(|after| offset.epoch != after.epoch || offset.id > after.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::offset;

    #[test]
    fn held_messages_after_what_was_sent_go_out() {
        let sent = offset(1, 100, 2);
        assert!(is_after(&offset(1, 100, 3), Some(&sent)));
        assert!(is_after(&offset(1, 101, 0), Some(&sent)));
        assert!(!is_after(&offset(1, 100, 2), Some(&sent)));
        assert!(!is_after(&offset(1, 99, 9), Some(&sent)));
        assert!(is_after(&offset(2, 1, 0), Some(&sent)));
        assert!(is_after(&offset(1, 1, 0), None));
    }
}
