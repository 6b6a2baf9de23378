//! The connections of every server process that acts as one (a Redis backplane's nodes):
//! listed from their presence records, and reached wherever they live.

use std::{borrow::Cow, collections::HashMap, fmt, io, sync::Mutex};

use tracing::debug;

use super::{ConnId, Connection, Hub, ServerHandle};
use crate::{
    CloseCode, Message, SendError,
    backplane::{Command, Order, Record},
    lock::lock,
};

/// A server process among those that act as one: random, chosen at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u64);

impl NodeId {
    pub(crate) fn new(id: u64) -> NodeId {
        NodeId(id)
    }

    /// The numeric value.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A live connection on any node of the cluster, as [`ServerHandle::cluster_connections`]
/// lists it: who it is (node, id, path, query, subprotocol), and a way to send to it or
/// close it wherever it lives.
///
/// A connection of this process is reached directly, as [`Connection`] does. One on another
/// node is reached through Redis, at most once: `Ok` means the order left for its node, which
/// carries it out if the connection is still there.
///
/// ```no_run
/// # async fn demo(server: ws_server::ServerHandle) -> std::io::Result<()> {
/// for conn in server.cluster_connections_at("/chat").await? {
///     if conn.query("name").as_deref() == Some("alice") {
///         let _ = conn.send_text("a word for alice, wherever she is").await;
///     }
/// }
/// # Ok(())
/// # }
/// # let _ = demo;
/// ```
#[derive(Clone)]
pub struct ClusterConnection {
    node: NodeId,
    record: Record,
    place: Place,
}

#[derive(Clone)]
enum Place {
    Here(Connection),
    There(ServerHandle),
}

impl ClusterConnection {
    pub(crate) fn local(node: NodeId, conn: Connection) -> ClusterConnection {
        ClusterConnection {
            node,
            record: record_of(&conn),
            place: Place::Here(conn),
        }
    }

    pub(crate) fn remote(node: NodeId, record: Record, server: ServerHandle) -> ClusterConnection {
        ClusterConnection {
            node,
            record,
            place: Place::There(server),
        }
    }

    /// The node the connection lives on.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Its id, unique on its node.
    pub fn id(&self) -> ConnId {
        ConnId::new(self.record.id)
    }

    /// Its resource's path.
    pub fn path(&self) -> &str {
        &self.record.path
    }

    /// The first value of query parameter `name` of its request, percent-decoded.
    pub fn query(&self, name: &str) -> Option<Cow<'_, str>> {
        form_urlencoded::parse(self.record.query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// The subprotocol agreed with its client, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.record.protocol.as_deref()
    }

    /// The connection itself, if it lives in this process.
    pub fn as_local(&self) -> Option<&Connection> {
        match &self.place {
            Place::Here(conn) => Some(conn),
            Place::There(_) => None,
        }
    }

    /// Sends a text message: queued here for a local connection (waiting for room as its
    /// policy says), handed to its node otherwise.
    pub async fn send_text(&self, text: impl Into<crate::Text>) -> Result<(), SendError> {
        self.send(Message::Text(text.into())).await
    }

    /// Sends a binary message, as [`send_text`](ClusterConnection::send_text) does.
    pub async fn send_binary(&self, data: impl Into<bytes::Bytes>) -> Result<(), SendError> {
        self.send(Message::Binary(data.into())).await
    }

    /// Sends `message`, as [`send_text`](ClusterConnection::send_text) does.
    ///
    /// # Errors
    /// For a local connection, as [`Connection::send`]; for a remote one,
    /// [`SendError::Dropped`] if the backplane could not take the order (Redis down or too
    /// slow).
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match &self.place {
            Place::Here(conn) => conn.send(message).await,
            Place::There(server) => self.order(server, Command::Send(message)),
        }
    }

    /// Closes the connection with `code` and `reason`.
    ///
    /// # Errors
    /// As [`Connection::close`] for a local connection; for a remote one,
    /// [`SendError::InvalidCloseCode`] for a code that may not be sent, and
    /// [`SendError::Dropped`] as for [`send`](ClusterConnection::send).
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        match &self.place {
            Place::Here(conn) => conn.close(code, reason),
            Place::There(server) => {
                if !code.is_sendable() {
                    return Err(SendError::InvalidCloseCode(code.as_u16()));
                }
                self.order(server, Command::Close(code, reason.to_owned()))
            }
        }
    }

    fn order(&self, server: &ServerHandle, command: Command) -> Result<(), SendError> {
        let order = Order {
            conn: self.record.id,
            command,
        };
        server.hub().order(self.node, order)
    }
}

/// What the cluster knows of a local connection.
pub(crate) fn record_of(conn: &Connection) -> Record {
    Record {
        id: conn.id().as_u64(),
        path: conn.path().to_owned(),
        query: conn.request().uri().query().unwrap_or_default().to_owned(),
        protocol: conn.protocol().map(str::to_owned),
    }
}

impl fmt::Debug for ClusterConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterConnection")
            .field("node", &self.node)
            .field("id", &self.record.id)
            .field("path", &self.record.path)
            .field("local", &matches!(self.place, Place::Here(_)))
            .finish()
    }
}

/// The names local connections hold claims on, and who holds each.
#[derive(Debug, Default)]
pub(super) struct Claims(Mutex<HashMap<String, ConnId>>);

impl Hub {
    /// This process among the cluster's.
    pub(crate) fn node_id(&self) -> NodeId {
        NodeId::new(self.origin)
    }

    /// The local connection `id`, if it is live.
    pub(crate) fn find(&self, id: ConnId) -> Option<Connection> {
        self.registry
            .routes()
            .iter()
            .find_map(|members| members.get(id))
    }

    /// Carries `order` to node `node`: here, or through the backplane.
    pub(crate) fn order(&self, node: NodeId, order: Order) -> Result<(), SendError> {
        if node == self.node_id() {
            self.execute_order(order);
            return Ok(());
        }
        match self.backplane.get() {
            Some(backplane) if backplane.order(node.as_u64(), order) => Ok(()),
            Some(_) => Err(SendError::Dropped),
            None => Err(SendError::Closed),
        }
    }

    /// Carries out an order for a local connection, without waiting: a message that finds
    /// the queue full is dropped (as a broadcast's would be), so that one slow connection
    /// cannot hold up the orders for the others.
    pub(crate) fn execute_order(&self, order: Order) {
        if let Command::CaughtUp(topic) = &order.command {
            #[cfg(feature = "redis")]
            self.caught_up(ConnId::new(order.conn), topic);
            let _ = topic;
            return;
        }
        let Some(conn) = self.find(ConnId::new(order.conn)) else {
            debug!(conn = order.conn, "order for a connection that has ended");
            return;
        };
        let result = match order.command {
            Command::Send(message) => conn.try_send(message),
            Command::Close(code, reason) => conn.close(code, &reason),
            Command::CaughtUp(_) => Ok(()),
        };
        if let Err(error) = result {
            debug!(conn = order.conn, %error, "order not carried out");
        }
    }

    /// The other nodes' connections; none without a backplane.
    pub(crate) async fn remote_records(&self) -> io::Result<Vec<(u64, Record)>> {
        match self.backplane.get() {
            Some(backplane) => backplane.others().await,
            None => Ok(Vec::new()),
        }
    }

    /// How many connections the other nodes have.
    pub(crate) async fn remote_count(&self) -> io::Result<usize> {
        match self.backplane.get() {
            Some(backplane) => backplane.count_others().await,
            None => Ok(0),
        }
    }

    /// Claims `name` for `conn`, across the cluster where there is a backplane.
    pub(crate) async fn claim(&self, conn: ConnId, name: &str) -> io::Result<bool> {
        {
            let mut claims = lock(&self.claims.0);
            match claims.get(name) {
                Some(holder) => return Ok(*holder == conn),
                None if self.backplane.get().is_none() => {
                    claims.insert(name.to_owned(), conn);
                    return Ok(true);
                }
                None => {}
            }
        }
        let Some(backplane) = self.backplane.get() else {
            return Ok(false);
        };
        if !backplane.claim(name, conn.as_u64()).await? {
            return Ok(false);
        }
        let mut claims = lock(&self.claims.0);
        // The connection may have ended meanwhile: then the claim goes at once.
        if self.find(conn).is_none() {
            drop(claims);
            backplane.release(name, conn.as_u64());
            return Ok(false);
        }
        claims.insert(name.to_owned(), conn);
        Ok(true)
    }

    /// Gives up `conn`'s claim on `name`; `false` if it held none.
    pub(crate) fn release(&self, conn: ConnId, name: &str) -> bool {
        let mut claims = lock(&self.claims.0);
        if claims.get(name) != Some(&conn) {
            return false;
        }
        claims.remove(name);
        drop(claims);
        if let Some(backplane) = self.backplane.get() {
            backplane.release(name, conn.as_u64());
        }
        true
    }

    /// Gives up every claim of an ended connection.
    pub(super) fn release_all(&self, conn: ConnId) {
        let mut names = Vec::new();
        lock(&self.claims.0).retain(|name, holder| {
            let held = *holder == conn;
            if held {
                names.push(name.clone());
            }
            !held
        });
        if let Some(backplane) = self.backplane.get() {
            for name in &names {
                backplane.release(name, conn.as_u64());
            }
        }
    }

    /// Every claim held here, with its holder.
    pub(super) fn claims(&self) -> Vec<(String, u64)> {
        lock(&self.claims.0)
            .iter()
            .map(|(name, holder)| (name.clone(), holder.as_u64()))
            .collect()
    }
}
