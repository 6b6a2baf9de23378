//! What the server counts, through the `metrics` facade; the series are listed in the
//! crate's documentation ("Metrics").

use std::time::Duration;

use metrics::{Counter, Gauge, counter, gauge};

use crate::{CloseCode, SlowConsumer};

/// How long a connection may keep counts before adding them to the series.
pub(crate) const TALLY_PERIOD: Duration = Duration::from_secs(1);

/// What one connection counted and has not added to the series yet. Every connection of a
/// resource adds to the same series: adding on every message would have the worker threads
/// take turns owning those counters' cache lines, so a connection adds what it counted at
/// most once per [`TALLY_PERIOD`], and when it ends.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) messages_received: u64,
    pub(crate) bytes_received: u64,
    pub(crate) messages_sent: u64,
    pub(crate) bytes_sent: u64,
}

/// One connection's series, registered when it is made: counting is then an add to a
/// handle.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionMetrics {
    messages_received: Counter,
    bytes_received: Counter,
    messages_sent: Counter,
    bytes_sent: Counter,
    pub(crate) slow_consumers: Counter,
    open: Gauge,
    resource: &'static str,
}

impl ConnectionMetrics {
    /// The series of a connection to `resource` under `policy`.
    pub(crate) fn new(resource: &'static str, policy: SlowConsumer) -> ConnectionMetrics {
        let policy = match policy {
            SlowConsumer::Close => "close",
            SlowConsumer::Drop => "drop",
            SlowConsumer::Wait => "wait",
        };
        ConnectionMetrics {
            messages_received: counter!("ws_messages_received_total", "resource" => resource),
            bytes_received: counter!("ws_bytes_received_total", "resource" => resource),
            messages_sent: counter!("ws_messages_sent_total", "resource" => resource),
            bytes_sent: counter!("ws_bytes_sent_total", "resource" => resource),
            slow_consumers: counter!(
                "ws_slow_consumers_total",
                "resource" => resource,
                "policy" => policy
            ),
            open: gauge!("ws_connections", "resource" => resource),
            resource,
        }
    }

    /// The connection opened.
    pub(crate) fn opened(&self) {
        counter!("ws_connections_opened_total", "resource" => self.resource).increment(1);
        self.open.increment(1.0);
    }

    /// Adds what `tally` counted to the series.
    pub(crate) fn add(&self, tally: &Tally) {
        for (counter, count) in [
            (&self.messages_received, tally.messages_received),
            (&self.bytes_received, tally.bytes_received),
            (&self.messages_sent, tally.messages_sent),
            (&self.bytes_sent, tally.bytes_sent),
        ] {
            if count > 0 {
                counter.increment(count);
            }
        }
    }

    /// The connection ended with `code`.
    pub(crate) fn closed(&self, code: CloseCode) {
        self.open.decrement(1.0);
        let code = code.as_u16().to_string();
        counter!("ws_connections_closed_total", "resource" => self.resource, "code" => code)
            .increment(1);
    }
}

/// An upgrade to `resource` was refused with `status`: the HTTP status, or the close code
/// of a refusal by close (1000 to 4999, so the two never mix up).
pub(crate) fn handshake_rejected(resource: &'static str, status: u16) {
    let status = status.to_string();
    counter!("ws_handshakes_rejected_total", "resource" => resource, "status" => status)
        .increment(1);
}

/// The backplane's series.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct BackplaneMetrics {
    pub(crate) published: Counter,
    pub(crate) received: Counter,
    pub(crate) dropped: Counter,
    pub(crate) connected: Gauge,
}

#[cfg_attr(not(feature = "redis"), allow(dead_code))]
impl BackplaneMetrics {
    pub(crate) fn new() -> BackplaneMetrics {
        BackplaneMetrics {
            published: counter!("ws_backplane_published_total"),
            received: counter!("ws_backplane_received_total"),
            dropped: counter!("ws_backplane_dropped_total"),
            connected: gauge!("ws_backplane_connected"),
        }
    }
}
