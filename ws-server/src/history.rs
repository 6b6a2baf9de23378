//! Topic history, for clients that reconnect: what a topic keeps, where each message is
//! in it, and what a resubscribing connection was told.

use std::{fmt, str::FromStr, sync::Arc, time::Duration};

use crate::Message;

/// How the messages published on a topic carry their [`Offset`] to the clients.
type Format = Arc<dyn Fn(&Offset, Message) -> Message + Send + Sync>;

/// A topic's bounded history, kept in Redis (a stream per topic), from which a
/// connection that comes back, on any node, gets what it missed; see
/// [`Builder::topic_history`](crate::Builder::topic_history) and
/// [`Connection::subscribe_since`](crate::Connection::subscribe_since).
///
/// Every message published on the topic gets an [`Offset`]. A client learns the offsets
/// from the messages themselves: [`format`](History::format) puts the offset into each
/// message as the clients receive it (the stored message stays as published).
///
/// ```
/// use std::time::Duration;
/// use ws_server::{History, Message};
///
/// let history = History::new(1000)
///     .max_age(Duration::from_secs(600))
///     .format(|offset, message| match message {
///         Message::Text(text) => Message::from(format!("{offset} {text}")),
///         binary => binary,
///     });
/// # let _ = history;
/// ```
#[derive(Clone)]
pub struct History {
    pub(crate) max_len: usize,
    pub(crate) max_age: Duration,
    format: Option<Format>,
}

impl History {
    /// Keeps the last `max_len` messages (at least 1), for at most an hour each.
    pub fn new(max_len: usize) -> History {
        History {
            max_len: max_len.max(1),
            max_age: Duration::from_secs(3600),
            format: None,
        }
    }

    /// How long a message stays in the history, at most (at least a second). A topic
    /// with no message for this long loses its history: its epoch changes.
    pub fn max_age(mut self, max_age: Duration) -> History {
        self.max_age = max_age.max(Duration::from_secs(1));
        self
    }

    /// Makes each message, as clients receive it (live or recovered), from its offset and
    /// the message as published: typically the offset goes into the message, so that the
    /// client can give it back when it reconnects. Runs once per message and node, not
    /// once per recipient. Without it, messages go out as published.
    pub fn format(
        mut self,
        format: impl Fn(&Offset, Message) -> Message + Send + Sync + 'static,
    ) -> History {
        self.format = Some(Arc::new(format));
        self
    }

    /// The message as clients receive it.
    pub(crate) fn present(&self, offset: &Offset, message: Message) -> Message {
        match &self.format {
            Some(format) => format(offset, message),
            None => message,
        }
    }
}

impl fmt::Debug for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("History")
            .field("max_len", &self.max_len)
            .field("max_age", &self.max_age)
            .field("format", &self.format.is_some())
            .finish()
    }
}

/// Where a message is in its topic's history: the history's epoch and the message's id
/// in it. Offsets of one epoch are ordered as the messages were published. Written
/// `epoch:ms-seq` (16 hex digits, then the Redis stream id), and parsed back from that.
///
/// ```
/// use ws_server::Offset;
///
/// let offset: Offset = "00c0ffee00c0ffee:1733300000000-3".parse().unwrap();
/// assert_eq!(offset.to_string(), "00c0ffee00c0ffee:1733300000000-3");
/// assert!("yesterday".parse::<Offset>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Offset {
    pub(crate) epoch: u64,
    pub(crate) id: StreamId,
}

/// A Redis stream entry's id: milliseconds, then a sequence number within them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct StreamId {
    pub(crate) ms: u64,
    pub(crate) seq: u64,
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl FromStr for StreamId {
    type Err = InvalidOffset;

    fn from_str(text: &str) -> Result<StreamId, InvalidOffset> {
        let (ms, seq) = text.split_once('-').ok_or(InvalidOffset)?;
        Ok(StreamId {
            ms: ms.parse().map_err(|_| InvalidOffset)?,
            seq: seq.parse().map_err(|_| InvalidOffset)?,
        })
    }
}

impl fmt::Debug for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Offset({self})")
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}:{}", self.epoch, self.id)
    }
}

impl FromStr for Offset {
    type Err = InvalidOffset;

    fn from_str(text: &str) -> Result<Offset, InvalidOffset> {
        let (epoch, id) = text.split_once(':').ok_or(InvalidOffset)?;
        if epoch.len() != 16 {
            return Err(InvalidOffset);
        }
        Ok(Offset {
            epoch: u64::from_str_radix(epoch, 16).map_err(|_| InvalidOffset)?,
            id: id.parse()?,
        })
    }
}

/// A text that is not an [`Offset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidOffset;

impl fmt::Display for InvalidOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a topic offset (expected `epoch:ms-seq`)")
    }
}

impl std::error::Error for InvalidOffset {}

/// What [`Connection::subscribe_since`](crate::Connection::subscribe_since) did. In every
/// case the connection is subscribed: it receives each message published after the ones
/// it was sent (or after `latest`), once and in order.
///
/// ```no_run
/// # use ws_server::{Connection, Offset, Recovery};
/// # async fn demo(conn: &Connection, since: Option<Offset>) -> std::io::Result<()> {
/// match conn.subscribe_since("news", since.as_ref()).await? {
///     Recovery::Recovered { missed } => tracing::debug!(missed, "caught up"),
///     other => {
///         // Trimmed, reset, or a new client: send the client the state as of
///         // `other.latest()` (from the app's own store).
///         let _ = other.latest();
///     }
/// }
/// # Ok(()) }
/// # let _ = demo;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recovery {
    /// Every message published after the offset given was sent, in order: `missed` of
    /// them.
    Recovered {
        /// How many messages were sent.
        missed: usize,
    },
    /// No offset was given: the connection receives what is published after `latest`,
    /// the history's last message when it subscribed (`None` if it was empty).
    Subscribed {
        /// The history's last message then.
        latest: Option<Offset>,
    },
    /// Messages after the offset given are no longer in the history (its length or age
    /// bound trimmed them): nothing of it was sent; the connection receives what is
    /// published after `latest`, and the client must resync up to there.
    Trimmed {
        /// The history's last message when it subscribed.
        latest: Option<Offset>,
    },
    /// The history was reset since the offset given (its epoch changed: it expired, or
    /// Redis lost it): as [`Trimmed`](Recovery::Trimmed).
    Reset {
        /// The history's last message when it subscribed.
        latest: Option<Offset>,
    },
}

impl Recovery {
    /// Where the connection's messages start, for the app to resync the client up to
    /// there: the history's last message when it subscribed (for
    /// [`Recovered`](Recovery::Recovered): `None`, as nothing needs resyncing).
    pub fn latest(&self) -> Option<Offset> {
        match self {
            Recovery::Recovered { .. } => None,
            Recovery::Subscribed { latest }
            | Recovery::Trimmed { latest }
            | Recovery::Reset { latest } => *latest,
        }
    }
}

/// What a topic's history holds from some id on.
#[derive(Debug, Default)]
pub(crate) struct Span {
    /// The history's epoch; `None` if it has none (never written, or expired).
    pub(crate) epoch: Option<u64>,
    /// Its last entry's id.
    pub(crate) last: Option<StreamId>,
    /// The entries from the id asked for on (that one included, if it is still there).
    pub(crate) entries: Vec<(StreamId, Message)>,
}

impl Span {
    /// What this reading gives a connection that saw up to `since`: the answer, and the
    /// offset after which newer messages are new to it.
    pub(crate) fn outcome(&self, since: Option<&Offset>) -> (Recovery, Option<Offset>) {
        let latest = self
            .epoch
            .zip(self.last)
            .map(|(epoch, id)| Offset { epoch, id });
        match since {
            None => (Recovery::Subscribed { latest }, latest),
            Some(since) if self.epoch != Some(since.epoch) => (Recovery::Reset { latest }, latest),
            Some(since) if self.entries.first().map(|(id, _)| *id) != Some(since.id) => {
                (Recovery::Trimmed { latest }, latest)
            }
            Some(since) => {
                let missed = self.entries.len() - 1;
                let after = self
                    .entries
                    .last()
                    .map(|(id, _)| Offset { id: *id, ..*since });
                (Recovery::Recovered { missed }, after)
            }
        }
    }

    /// The messages after `since`, with their offsets, in order: those a
    /// [`Recovered`](Recovery::Recovered) outcome counts as missed.
    pub(crate) fn missed_since(self, since: Offset) -> impl Iterator<Item = (Offset, Message)> {
        // The first entry is `since` itself.
        self.entries
            .into_iter()
            .skip(1)
            .map(move |(id, message)| (Offset { id, ..since }, message))
    }
}

/// The offset of entry `ms-seq` in epoch `epoch`, for tests.
#[cfg(test)]
pub(crate) fn offset(epoch: u64, ms: u64, seq: u64) -> Offset {
    Offset {
        epoch,
        id: StreamId { ms, seq },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(epoch: Option<u64>, ids: &[u64]) -> Span {
        let id = |ms| StreamId { ms, seq: 0 };
        Span {
            epoch,
            last: ids.last().map(|ms| id(*ms)),
            entries: ids.iter().map(|ms| (id(*ms), Message::from("m"))).collect(),
        }
    }

    #[test]
    fn reading_the_history_says_what_was_missed_or_why_it_cannot_be_recovered() {
        let since = offset(7, 10, 0);
        let both = |recovery, after| (recovery, after);
        assert_eq!(
            span(Some(7), &[10, 11, 12]).outcome(Some(&since)),
            both(Recovery::Recovered { missed: 2 }, Some(offset(7, 12, 0)))
        );
        assert_eq!(
            span(Some(7), &[10]).outcome(Some(&since)),
            both(Recovery::Recovered { missed: 0 }, Some(since))
        );
        let latest = Some(offset(7, 12, 0));
        assert_eq!(
            span(Some(7), &[11, 12]).outcome(Some(&since)),
            both(Recovery::Trimmed { latest }, latest)
        );
        let latest = Some(offset(8, 12, 0));
        assert_eq!(
            span(Some(8), &[10, 12]).outcome(Some(&since)),
            both(Recovery::Reset { latest }, latest)
        );
        assert_eq!(
            span(None, &[]).outcome(Some(&since)),
            both(Recovery::Reset { latest: None }, None)
        );
        let mut newest = span(Some(7), &[]);
        newest.last = Some(StreamId { ms: 12, seq: 0 });
        let latest = Some(offset(7, 12, 0));
        assert_eq!(
            newest.outcome(None),
            both(Recovery::Subscribed { latest }, latest)
        );
    }
}
