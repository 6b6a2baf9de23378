//! Topic history in Redis: a stream per topic, and the epoch of that stream.
//!
//! A message is added to the stream and published to the topic's channel by one script,
//! so that every node receives a topic's messages in the stream's order: a node that
//! reads the stream while subscribed to the channel can tell exactly which messages the
//! channel will still bring.

use bytes::Bytes;
use redis::{Value, aio::MultiplexedConnection};

use super::{Scope, redis::PREFIX, wire::message_of};
use crate::{
    History, Message,
    history::{Offset, Span, StreamId},
};

/// Adds a message, trims by length and age, renews the expiry, and publishes it with its
/// offset. KEYS: stream, epoch. ARGV: new epoch (used when the stream is new), max length,
/// max age (ms), channel, envelope head, stored message.
const APPEND: &str = r"
local epoch = redis.call('GET', KEYS[2])
if (not epoch) or redis.call('EXISTS', KEYS[1]) == 0 then
  epoch = ARGV[1]
  redis.call('SET', KEYS[2], epoch)
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '*', 'm', ARGV[6])
local now = redis.call('TIME')
local oldest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[3])
redis.call('XTRIM', KEYS[1], 'MINID', string.format('%.0f', oldest))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local offset = epoch .. ':' .. id
redis.call('PUBLISH', ARGV[4], ARGV[5] .. string.char(#offset) .. offset .. ARGV[6])
return offset
";

/// The epoch, the last entry, and (if ARGV[1] is an id) the entries from that id on, at
/// most ARGV[2]; then, if ARGV[3] is a channel, publishes marker ARGV[4] there, which
/// reaches the reading node after every message of the topic that it read. KEYS: stream,
/// epoch.
const RANGE: &str = r"
local epoch = redis.call('GET', KEYS[2]) or ''
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local entries = {}
if ARGV[1] ~= '' then
  entries = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])
end
if ARGV[3] ~= '' then
  redis.call('PUBLISH', ARGV[3], ARGV[4])
end
return {epoch, last, entries}
";

fn keys(topic: &str) -> [String; 2] {
    [
        format!("{PREFIX}history:{topic}"),
        format!("{PREFIX}epoch:{topic}"),
    ]
}

/// Records `message` in `topic`'s history and publishes it; `head` is its envelope's
/// start (see [`Envelope::recorded_parts`](super::wire::Envelope::recorded_parts)).
pub(super) async fn append(
    redis: &mut MultiplexedConnection,
    topic: &str,
    history: &History,
    head: &Bytes,
    stored: &Bytes,
) -> redis::RedisResult<Offset> {
    let [stream, epoch] = keys(topic);
    let new_epoch = format!("{:016x}", fastrand::u64(1..));
    let max_age = u64::try_from(history.max_age.as_millis()).unwrap_or(u64::MAX);
    let offset: String = redis::cmd("EVAL")
        .arg(APPEND)
        .arg(2)
        .arg(stream)
        .arg(epoch)
        .arg(new_epoch)
        .arg(history.max_len)
        .arg(max_age)
        .arg(Scope::Topic(topic).channel(PREFIX))
        .arg(&head[..])
        .arg(&stored[..])
        .query_async(redis)
        .await?;
    offset.parse().map_err(|_| invalid("offset"))
}

/// `topic`'s history from `from` on (at most `count` entries), or only its epoch and
/// last entry; then `marker` goes to its channel.
pub(super) async fn range(
    redis: &mut MultiplexedConnection,
    topic: &str,
    from: Option<StreamId>,
    count: usize,
    marker: Option<(&str, &Bytes)>,
) -> redis::RedisResult<Span> {
    let (channel, marker): (&str, &[u8]) = match marker {
        Some((channel, marker)) => (channel, marker),
        None => ("", b""),
    };
    let [stream, epoch] = keys(topic);
    let reply: Value = redis::cmd("EVAL")
        .arg(RANGE)
        .arg(2)
        .arg(stream)
        .arg(epoch)
        .arg(from.map(|id| id.to_string()).unwrap_or_default())
        .arg(count)
        .arg(channel)
        .arg(marker)
        .query_async(redis)
        .await?;
    parse_span(reply).ok_or_else(|| invalid("history range"))
}

fn parse_span(reply: Value) -> Option<Span> {
    let Value::Array(parts) = reply else {
        return None;
    };
    let [epoch, last, entries] = <[Value; 3]>::try_from(parts).ok()?;
    let epoch = match text(&epoch)? {
        "" => None,
        hex => Some(u64::from_str_radix(hex, 16).ok()?),
    };
    let last = parse_entries(last)?.pop().map(|(id, _)| id);
    Some(Span {
        epoch,
        last,
        entries: parse_entries(entries)?,
    })
}

/// Stream entries, each `[id, ["m", stored message]]`.
fn parse_entries(reply: Value) -> Option<Vec<(StreamId, Message)>> {
    let Value::Array(entries) = reply else {
        return None;
    };
    entries
        .into_iter()
        .map(|entry| {
            let Value::Array(entry) = entry else {
                return None;
            };
            let [id, fields] = <[Value; 2]>::try_from(entry).ok()?;
            let Value::Array(fields) = fields else {
                return None;
            };
            let Some(Value::BulkString(stored)) = fields.into_iter().nth(1) else {
                return None;
            };
            Some((text(&id)?.parse().ok()?, message_of(Bytes::from(stored))?))
        })
        .collect()
}

fn text(value: &Value) -> Option<&str> {
    match value {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
        Value::SimpleString(text) => Some(text),
        _ => None,
    }
}

fn invalid(what: &str) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::UnexpectedReturnType,
        "unexpected reply",
        what.to_owned(),
    ))
}
