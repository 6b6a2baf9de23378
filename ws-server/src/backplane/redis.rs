//! The Redis backplane: Redis pub/sub, one subscription connection per server process for
//! every channel it has local receivers for, and one connection that publishes.

use std::{
    collections::HashSet,
    io,
    sync::{
        Arc, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use futures_util::StreamExt;
use redis::{
    AsyncConnectionConfig, Client,
    aio::{MultiplexedConnection, PubSubSink},
};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use super::{
    Backplane, BackplaneStats, BoxFuture, Command, Inbound, Order, Record, Scope,
    presence::{self, Presence},
    streams,
    wire::Envelope,
};
use crate::{
    Message, Recovery,
    history::{Span, StreamId},
    metrics::BackplaneMetrics,
};

/// Every channel name starts with this.
pub(super) const PREFIX: &str = "ws-server:";
/// Messages waiting to be published; beyond this, publishes are dropped (and counted)
/// rather than making senders wait.
const QUEUE: usize = 8192;
/// Publishes sent to Redis in one pipeline, at most.
const BATCH: usize = 256;
/// The longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How long a command waits for Redis's answer. The redis crate's default (half a
/// second) is short enough for a loaded machine to reach, and a command that timed out
/// may still have been carried out.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`Backplane::following`] waits for the subscription, at most.
const FOLLOW_TIMEOUT: Duration = Duration::from_secs(5);

/// The channels the subscription connection is subscribed to now (none while it is down).
type Following = Arc<HashSet<String>>;

/// A Redis pub/sub backplane.
#[derive(Debug)]
pub(crate) struct RedisBackplane {
    publish: mpsc::Sender<(String, Bytes)>,
    /// Marked when the set of local topics changed: the subscriber then brings its
    /// subscriptions in line with the hub's topics. A mark, not a queue of changes, so
    /// subscription churn costs no memory while Redis is slow or away.
    topics_changed: watch::Sender<()>,
    following: watch::Receiver<Following>,
    counters: Arc<Counters>,
    origin: u64,
    presence: Arc<Presence>,
    client: Client,
    /// For reading the cluster and claiming: made when first needed, again after a failure.
    commands: tokio::sync::Mutex<Option<MultiplexedConnection>>,
}

/// The channel of node `node`'s orders.
fn node_channel(node: u64) -> String {
    format!("{PREFIX}node:{node:016x}")
}

impl RedisBackplane {
    /// Starts the publishing and subscribing tasks for the server behind `hub` (known here
    /// by `origin`, to skip its own messages), whose
    /// resources are at `paths`.
    ///
    /// # Errors
    /// `InvalidInput` for a URL Redis does not accept. Redis being down is not an error:
    /// the backplane connects when it can.
    pub(crate) fn start(
        url: &str,
        hub: Weak<dyn Inbound>,
        origin: u64,
        paths: &[&str],
        presence_ttl: Duration,
    ) -> io::Result<RedisBackplane> {
        let client = Client::open(url)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        let counters = Arc::new(Counters::new());
        let (publish, queue) = mpsc::channel(QUEUE);
        let (topics_changed, changes) = watch::channel(());
        let (following_tx, following) = watch::channel(Following::default());
        let mut channels = vec![Scope::All.channel(PREFIX), node_channel(origin)];
        channels.extend(paths.iter().map(|path| Scope::Path(path).channel(PREFIX)));
        let presence = Arc::new(Presence::new(origin, presence_ttl));
        tokio::spawn(presence::keep(
            client.clone(),
            hub.clone(),
            presence.clone(),
        ));
        tokio::spawn(publisher(client.clone(), queue, counters.clone()));
        tokio::spawn(subscriber(
            client.clone(),
            hub,
            origin,
            channels,
            changes,
            following_tx,
            counters.clone(),
        ));
        info!(url, "Redis backplane started");
        Ok(RedisBackplane {
            publish,
            topics_changed,
            following,
            counters,
            origin,
            presence,
            client,
            commands: tokio::sync::Mutex::new(None),
        })
    }

    /// The commands connection: the one made before, or (`fresh`) a new one.
    async fn connection(&self, fresh: bool) -> io::Result<MultiplexedConnection> {
        let mut commands = self.commands.lock().await;
        if fresh || commands.is_none() {
            *commands = connect(&self.client).await;
        }
        commands
            .clone()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "Redis is unreachable"))
    }

    /// Runs `query` on the commands connection. One that fails on a connection made
    /// earlier (Redis may have restarted since) is tried once more on a new one; not one
    /// that timed out, which Redis may have carried out.
    fn query<'a, T: Send + 'a>(
        &'a self,
        query: impl Fn(MultiplexedConnection) -> BoxFuture<'a, redis::RedisResult<T>> + Send + Sync + 'a,
    ) -> BoxFuture<'a, io::Result<T>> {
        Box::pin(async move {
            let mut fresh = false;
            loop {
                match query(self.connection(fresh).await?).await {
                    Ok(value) => return Ok(value),
                    Err(error) if fresh || error.is_timeout() => {
                        return Err(io::Error::other(error));
                    }
                    Err(_) => fresh = true,
                }
            }
        })
    }
}

impl Backplane for RedisBackplane {
    fn publish(&self, scope: Scope<'_>, message: &Message) {
        let payload = Envelope::encode(self.origin, message);
        if self
            .publish
            .try_send((scope.channel(PREFIX), payload))
            .is_err()
        {
            self.counters.dropped(1);
            debug!("backplane queue full or closed: message dropped");
        }
    }

    fn topics_changed(&self) {
        self.topics_changed.send_replace(());
    }

    fn stats(&self) -> BackplaneStats {
        self.counters.snapshot()
    }

    fn opened(&self, record: Record) {
        self.presence.opened(&record);
    }

    fn closed(&self, id: u64) {
        self.presence.closed(id);
    }

    fn others(&self) -> BoxFuture<'_, io::Result<Vec<(u64, Record)>>> {
        self.query(move |mut redis| Box::pin(async move { self.presence.others(&mut redis).await }))
    }

    fn count_others(&self) -> BoxFuture<'_, io::Result<usize>> {
        self.query(move |mut redis| {
            Box::pin(async move { self.presence.count_others(&mut redis).await })
        })
    }

    fn order(&self, node: u64, order: Order) -> bool {
        self.publish
            .try_send((node_channel(node), order.encode()))
            .is_ok()
    }

    fn claim<'a>(&'a self, name: &'a str, conn: u64) -> BoxFuture<'a, io::Result<bool>> {
        self.query(move |mut redis| {
            Box::pin(async move { self.presence.claim(&mut redis, name, conn).await })
        })
    }

    fn release(&self, name: &str, conn: u64) {
        self.presence.released(name, conn);
    }

    fn append<'a>(
        &'a self,
        topic: &'a str,
        history: &'a crate::History,
        message: &'a Message,
        except: Option<u64>,
    ) -> BoxFuture<'a, io::Result<crate::Offset>> {
        let (head, stored) = Envelope::recorded_parts(self.origin, except, message);
        Box::pin(async move {
            let appended = self
                .query(|mut redis| {
                    let (head, stored) = (&head, &stored);
                    Box::pin(async move {
                        streams::append(&mut redis, topic, history, head, stored).await
                    })
                })
                .await;
            match &appended {
                Ok(_) => self.counters.published(1),
                Err(_) => self.counters.dropped(1),
            }
            appended
        })
    }

    fn following<'a>(&'a self, topic: &'a str) -> BoxFuture<'a, io::Result<()>> {
        let channel = Scope::Topic(topic).channel(PREFIX);
        let mut following = self.following.clone();
        Box::pin(async move {
            let subscribed = following.wait_for(|channels| channels.contains(&channel));
            match tokio::time::timeout(FOLLOW_TIMEOUT, subscribed).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(_)) => Err(io::Error::other("the backplane has stopped")),
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "Redis did not confirm the subscription",
                )),
            }
        })
    }

    fn range<'a>(
        &'a self,
        topic: &'a str,
        from: Option<StreamId>,
        count: usize,
        conn: u64,
    ) -> BoxFuture<'a, io::Result<Span>> {
        let channel = node_channel(self.origin);
        let command = Command::CaughtUp(topic.to_owned());
        let marker = Order { conn, command }.encode();
        Box::pin(async move {
            let (channel, marker) = (&channel, &marker);
            self.query(move |mut redis| {
                Box::pin(async move {
                    let marker = Some((channel.as_str(), marker));
                    streams::range(&mut redis, topic, from, count, marker).await
                })
            })
            .await
        })
    }
}

/// Publishes what is queued, in order, pipelining what has piled up.
async fn publisher(
    client: Client,
    mut queue: mpsc::Receiver<(String, Bytes)>,
    counters: Arc<Counters>,
) {
    let mut connection: Option<MultiplexedConnection> = None;
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        if connection.is_none() {
            connection = connect(&client).await;
        }
        let count = batch.len() as u64;
        let Some(conn) = connection.as_mut() else {
            counters.dropped(count);
            warn!(
                dropped = count,
                "Redis unreachable: publishes to other servers dropped"
            );
            batch.clear();
            continue;
        };
        let mut pipe = redis::pipe();
        for (channel, payload) in batch.drain(..) {
            pipe.cmd("PUBLISH").arg(channel).arg(&payload[..]).ignore();
        }
        match pipe.query_async::<()>(conn).await {
            Ok(()) => counters.published(count),
            Err(error) => {
                counters.dropped(count);
                warn!(%error, dropped = count, "publishing to Redis failed");
                connection = None;
            }
        }
    }
}

pub(super) async fn connect(client: &Client) -> Option<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    match tokio::time::timeout(
        Duration::from_secs(2),
        client.get_multiplexed_async_connection_with_config(&config),
    )
    .await
    {
        Ok(Ok(connection)) => Some(connection),
        Ok(Err(error)) => {
            debug!(%error, "connecting to Redis failed");
            None
        }
        Err(_) => None,
    }
}

/// Keeps one subscription connection: subscribes to the server's channels and to every
/// topic with local subscribers, delivers what other servers publish, and reconnects
/// (resubscribing) whenever the connection is lost.
async fn subscriber(
    client: Client,
    hub: Weak<dyn Inbound>,
    origin: u64,
    base: Vec<String>,
    mut changes: watch::Receiver<()>,
    following: watch::Sender<Following>,
    counters: Arc<Counters>,
) {
    let orders = node_channel(origin);
    let mut backoff = Duration::from_millis(50);
    loop {
        if hub.strong_count() == 0 {
            return;
        }
        let pubsub = match client.get_async_pubsub().await {
            Ok(pubsub) => pubsub,
            Err(error) => {
                debug!(%error, ?backoff, "Redis backplane: cannot connect; retrying");
                if changes.has_changed().is_err() {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let (mut sink, mut stream) = pubsub.split();
        changes.mark_unchanged();
        let mut topics = HashSet::new();
        let subscribed = match sink.subscribe(&base).await {
            Ok(()) => follow_topics(&mut sink, &hub, &mut topics).await,
            Err(error) => Err(error),
        };
        if let Err(error) = subscribed {
            debug!(%error, "Redis backplane: subscribing failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            continue;
        }
        if let Some(hub) = hub.upgrade() {
            resume_histories(&client, &*hub, &topics).await;
        }
        following.send_replace(Arc::new(topics.clone()));
        counters.set_connected(true);
        backoff = Duration::from_millis(50);
        info!(
            channels = base.len() + topics.len(),
            "Redis backplane connected"
        );
        loop {
            tokio::select! {
                message = stream.next() => {
                    let Some(message) = message else { break };
                    let Some(hub) = hub.upgrade() else { return };
                    let channel = message.get_channel_name();
                    let payload = Bytes::copy_from_slice(message.get_payload_bytes());
                    if channel == orders {
                        match Order::decode(payload) {
                            Some(order) => hub.execute(order),
                            None => debug!("ignoring a malformed order"),
                        }
                        continue;
                    }
                    let (Some(scope), Some(envelope)) =
                        (Scope::of_channel(channel, PREFIX), Envelope::decode(payload))
                    else {
                        debug!(channel, "ignoring a malformed backplane message");
                        continue;
                    };
                    let missed = match (scope, envelope.recorded) {
                        (Scope::Topic(topic), Some(mut recorded)) => {
                            // Conn ids are per node: `except` is one of ours only if we sent it.
                            recorded.except = recorded.except.filter(|_| envelope.origin == origin);
                            hub.deliver_recorded(topic, recorded, envelope.message)
                        }
                        _ if envelope.origin == origin => continue,
                        _ => hub.deliver(scope, envelope.message),
                    };
                    counters.received(1);
                    if missed > 0 {
                        debug!(missed, "connections missed a message from another node");
                    }
                }
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    if follow_topics(&mut sink, &hub, &mut topics).await.is_err() {
                        break;
                    }
                    following.send_replace(Arc::new(topics.clone()));
                }
            }
        }
        following.send_replace(Following::default());
        counters.set_connected(false);
        warn!("Redis backplane disconnected; reconnecting");
    }
}

/// After reconnecting (and subscribing again): delivers, from each topic's history, what
/// was published while this node was away, from the last message it had delivered; what
/// then comes through the subscription again is skipped by the hub.
async fn resume_histories(client: &Client, hub: &dyn Inbound, subscribed: &HashSet<String>) {
    let positions = hub.positions();
    if positions.is_empty() {
        return;
    }
    let Some(mut redis) = connect(client).await else {
        warn!("Redis unreachable: what topics with history published meanwhile is lost here");
        return;
    };
    for (topic, last, max_len) in positions {
        if !subscribed.contains(&Scope::Topic(&topic).channel(PREFIX)) {
            hub.stopped_following(&topic);
            continue;
        }
        let span = streams::range(&mut redis, &topic, Some(last.id), max_len + 1, None).await;
        match span.map(|span| (span.outcome(Some(&last)).0, span)) {
            Ok((Recovery::Recovered { missed }, span)) => {
                for (offset, message) in span.missed_since(last) {
                    let recorded = super::Recorded {
                        offset,
                        except: None,
                    };
                    hub.deliver_recorded(&topic, recorded, message);
                }
                if missed > 0 {
                    info!(%topic, missed, "delivered from the history what was published while Redis was away");
                }
            }
            Ok(_) => warn!(
                %topic,
                "what was published while Redis was away is no longer in the history: subscribers here missed it"
            ),
            Err(error) => warn!(%error, %topic, "reading the history after reconnecting failed"),
        }
    }
}

/// Brings the topic channels subscribed (`subscribed`) in line with the hub's topics that
/// have local subscribers now.
async fn follow_topics(
    sink: &mut PubSubSink,
    hub: &Weak<dyn Inbound>,
    subscribed: &mut HashSet<String>,
) -> redis::RedisResult<()> {
    let wanted: HashSet<String> = hub.upgrade().map_or_else(HashSet::new, |hub| {
        hub.topics()
            .iter()
            .map(|topic| Scope::Topic(topic).channel(PREFIX))
            .collect()
    });
    let gone: Vec<_> = subscribed.difference(&wanted).cloned().collect();
    let new: Vec<_> = wanted.difference(subscribed).cloned().collect();
    if !gone.is_empty() {
        sink.unsubscribe(&gone).await?;
        if let Some(hub) = hub.upgrade() {
            for channel in &gone {
                if let Some(Scope::Topic(topic)) = Scope::of_channel(channel, PREFIX) {
                    hub.stopped_following(topic);
                }
            }
        }
    }
    if !new.is_empty() {
        sink.subscribe(&new).await?;
    }
    *subscribed = wanted;
    Ok(())
}

/// Counters shared by a backplane's tasks, also reported through the `metrics` facade.
#[derive(Debug)]
pub(crate) struct Counters {
    published: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
    connected: AtomicBool,
    metrics: BackplaneMetrics,
}

impl Counters {
    fn new() -> Counters {
        Counters {
            published: AtomicU64::new(0),
            received: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            metrics: BackplaneMetrics::new(),
        }
    }

    pub(crate) fn snapshot(&self) -> BackplaneStats {
        BackplaneStats {
            published: self.published.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            connected: self.connected.load(Ordering::Relaxed),
        }
    }

    fn published(&self, n: u64) {
        self.published.fetch_add(n, Ordering::Relaxed);
        self.metrics.published.increment(n);
    }

    fn received(&self, n: u64) {
        self.received.fetch_add(n, Ordering::Relaxed);
        self.metrics.received.increment(n);
    }

    fn dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
        self.metrics.dropped.increment(n);
    }

    fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
        self.metrics.connected.set(f64::from(u8::from(connected)));
    }
}
