//! What the server counts, through the `metrics` facade; the series are listed in the
//! crate's documentation ("Metrics").

use metrics::{Counter, Gauge, counter, gauge};

use crate::{CloseCode, SlowConsumer};

/// One connection's series, registered when it is made: counting a message is then an
/// add to a handle.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionMetrics {
    pub(crate) messages_received: Counter,
    pub(crate) bytes_received: Counter,
    pub(crate) messages_sent: Counter,
    pub(crate) bytes_sent: Counter,
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
