//! How a message travels between processes: a channel per scope, and a payload that says
//! which process sent it and whether it is text or binary.

use bytes::{BufMut, Bytes, BytesMut};

use crate::{CloseCode, Message, Text};

/// Whom a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope<'a> {
    /// Every connection.
    All,
    /// The connections of one resource path.
    Path(&'a str),
    /// The subscribers of one topic.
    Topic(&'a str),
}

#[cfg_attr(not(feature = "redis"), allow(dead_code))]
impl<'a> Scope<'a> {
    /// The channel name under `prefix`.
    pub(crate) fn channel(&self, prefix: &str) -> String {
        match self {
            Scope::All => format!("{prefix}all"),
            Scope::Path(path) => format!("{prefix}path:{path}"),
            Scope::Topic(topic) => format!("{prefix}topic:{topic}"),
        }
    }

    /// The scope a channel name under `prefix` stands for.
    pub(crate) fn of_channel(channel: &'a str, prefix: &str) -> Option<Scope<'a>> {
        let rest = channel.strip_prefix(prefix)?;
        if rest == "all" {
            Some(Scope::All)
        } else if let Some(path) = rest.strip_prefix("path:") {
            Some(Scope::Path(path))
        } else {
            rest.strip_prefix("topic:").map(Scope::Topic)
        }
    }
}

#[cfg_attr(not(feature = "redis"), allow(dead_code))]
const TEXT: u8 = 0;
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
const BINARY: u8 = 1;

#[cfg(feature = "redis")]
const RECORDED: u8 = 3;

/// A message with the process it came from: 8 bytes of origin, 1 byte of kind, payload.
/// A message of a topic with history has kind [`RECORDED`] and, before its own kind, the
/// connection it is not for (0: none) and its offset: 8 bytes, then the offset's length
/// (1 byte) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct Envelope {
    pub(crate) origin: u64,
    pub(crate) message: Message,
    #[cfg(feature = "redis")]
    pub(crate) recorded: Option<Recorded>,
}

/// Where a message of a topic with history is in it, and whom it skips.
#[cfg(feature = "redis")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recorded {
    pub(crate) offset: crate::Offset,
    pub(crate) except: Option<u64>,
}

#[cfg_attr(not(feature = "redis"), allow(dead_code))]
impl Envelope {
    pub(crate) fn encode(origin: u64, message: &Message) -> Bytes {
        let payload = message.payload();
        let mut out = BytesMut::with_capacity(9 + payload.len());
        out.put_u64(origin);
        out.put_u8(kind_of(message));
        out.extend_from_slice(payload);
        out.freeze()
    }

    /// A recorded message's envelope but for its offset, which Redis assigns: what comes
    /// before the offset, and after it (the stored message: kind and payload).
    #[cfg(feature = "redis")]
    pub(crate) fn recorded_parts(
        origin: u64,
        except: Option<u64>,
        message: &Message,
    ) -> (Bytes, Bytes) {
        let mut head = BytesMut::with_capacity(17);
        head.put_u64(origin);
        head.put_u8(RECORDED);
        head.put_u64(except.unwrap_or(0));
        (head.freeze(), Self::stored(message))
    }

    /// A message as a topic's history stores it: 1 byte of kind, payload.
    #[cfg(feature = "redis")]
    pub(crate) fn stored(message: &Message) -> Bytes {
        let mut out = BytesMut::with_capacity(1 + message.payload().len());
        out.put_u8(kind_of(message));
        out.extend_from_slice(message.payload());
        out.freeze()
    }

    /// `None` for anything this format did not produce (including text that is not UTF-8).
    pub(crate) fn decode(mut data: Bytes) -> Option<Envelope> {
        if data.len() < 9 {
            return None;
        }
        let origin = u64::from_be_bytes(data[..8].try_into().ok()?);
        #[cfg(feature = "redis")]
        if data[8] == RECORDED {
            return Self::decode_recorded(origin, data.split_off(9));
        }
        let message = message_of(data.split_off(8))?;
        Some(Envelope {
            origin,
            message,
            #[cfg(feature = "redis")]
            recorded: None,
        })
    }

    #[cfg(feature = "redis")]
    fn decode_recorded(origin: u64, mut data: Bytes) -> Option<Envelope> {
        if data.len() < 9 {
            return None;
        }
        let except = u64::from_be_bytes(data[..8].try_into().ok()?);
        let len = usize::from(data[8]);
        let rest = data.split_off(9);
        let offset = std::str::from_utf8(rest.get(..len)?).ok()?.parse().ok()?;
        Some(Envelope {
            origin,
            message: message_of(rest.slice(len..))?,
            recorded: Some(Recorded {
                offset,
                except: (except != 0).then_some(except),
            }),
        })
    }
}

#[cfg_attr(not(feature = "redis"), allow(dead_code))]
fn kind_of(message: &Message) -> u8 {
    match message {
        Message::Text(_) => TEXT,
        Message::Binary(_) => BINARY,
    }
}

/// A message from its kind byte and payload; `None` for another kind, or text that is
/// not UTF-8.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn message_of(mut data: Bytes) -> Option<Message> {
    if data.is_empty() {
        return None;
    }
    let payload = data.split_off(1);
    match data[0] {
        TEXT => Some(Message::Text(Text::try_from(payload).ok()?)),
        BINARY => Some(Message::Binary(payload)),
        _ => None,
    }
}

/// What one node asks another to do to one of its connections.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) enum Command {
    Send(Message),
    Close(CloseCode, String),
    /// Sent by a node to itself after reading a topic's history for the connection: once
    /// it comes back, every message the reading saw has come back too.
    CaughtUp(String),
}

#[cfg_attr(not(feature = "redis"), allow(dead_code))]
const CLOSE: u8 = 2;
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
const CAUGHT_UP: u8 = 4;

/// A [`Command`] for connection `conn` of the node it is sent to: 8 bytes of connection
/// id, 1 byte of kind, then the message, or the close code (2 bytes) and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct Order {
    pub(crate) conn: u64,
    pub(crate) command: Command,
}

#[cfg_attr(not(feature = "redis"), allow(dead_code))]
impl Order {
    pub(crate) fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(16);
        out.put_u64(self.conn);
        match &self.command {
            Command::Send(message) => {
                out.put_u8(kind_of(message));
                out.extend_from_slice(message.payload());
            }
            Command::Close(code, reason) => {
                out.put_u8(CLOSE);
                out.put_u16(code.as_u16());
                out.extend_from_slice(reason.as_bytes());
            }
            Command::CaughtUp(topic) => {
                out.put_u8(CAUGHT_UP);
                out.extend_from_slice(topic.as_bytes());
            }
        }
        out.freeze()
    }

    /// `None` for anything this format did not produce.
    pub(crate) fn decode(mut data: Bytes) -> Option<Order> {
        if data.len() < 9 {
            return None;
        }
        let conn = u64::from_be_bytes(data[..8].try_into().ok()?);
        let rest = data.split_off(8);
        if rest[0] == CAUGHT_UP {
            let topic = std::str::from_utf8(&rest[1..]).ok()?.to_owned();
            let command = Command::CaughtUp(topic);
            return Some(Order { conn, command });
        }
        if rest[0] != CLOSE {
            let command = Command::Send(message_of(rest)?);
            return Some(Order { conn, command });
        }
        let code = u16::from_be_bytes([*rest.get(1)?, *rest.get(2)?]);
        let reason = std::str::from_utf8(&rest[3..]).ok()?.to_owned();
        let command = Command::Close(CloseCode::new(code), reason);
        Some(Order { conn, command })
    }
}

/// A connection as the cluster lists it: its id on its node, path, raw query and
/// subprotocol. Stored as `path \n query \n protocol` under its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) id: u64,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) protocol: Option<String>,
}

#[cfg_attr(not(feature = "redis"), allow(dead_code))]
impl Record {
    pub(crate) fn value(&self) -> String {
        let protocol = self.protocol.as_deref().unwrap_or_default();
        format!("{}\n{}\n{protocol}", self.path, self.query)
    }

    pub(crate) fn parse(id: u64, value: &str) -> Option<Record> {
        let mut parts = value.splitn(3, '\n');
        let (path, query, protocol) = (parts.next()?, parts.next()?, parts.next()?);
        Some(Record {
            id,
            path: path.to_owned(),
            query: query.to_owned(),
            protocol: (!protocol.is_empty()).then(|| protocol.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_text_and_binary_exactly() {
        for message in [
            Message::from("héllo"),
            Message::from(""),
            Message::Binary(Bytes::from(vec![0, 255, 1, 254])),
        ] {
            let encoded = Envelope::encode(42, &message);
            assert_eq!(
                Envelope::decode(encoded),
                Some(Envelope {
                    origin: 42,
                    message,
                    #[cfg(feature = "redis")]
                    recorded: None,
                })
            );
        }
        assert_eq!(Envelope::decode(Bytes::from_static(b"short")), None);
        let mut bad_text = Envelope::encode(1, &Message::from("x")).to_vec();
        bad_text.push(0xff);
        assert_eq!(Envelope::decode(Bytes::from(bad_text)), None);
    }

    #[cfg(feature = "redis")]
    #[test]
    fn recorded_envelopes_carry_their_offset_and_whom_they_skip() {
        let offset: crate::Offset = "00000000000000ff:1700000000000-7".parse().unwrap();
        for (except, message) in [
            (None, Message::from("héllo")),
            (Some(9), Message::Binary(Bytes::from_static(&[0, 255]))),
        ] {
            // Put together as the history's script does.
            let (head, stored) = Envelope::recorded_parts(42, except, &message);
            let text = offset.to_string();
            let mut data = head.to_vec();
            data.push(u8::try_from(text.len()).unwrap());
            data.extend_from_slice(text.as_bytes());
            data.extend_from_slice(&stored);
            let recorded = Some(Recorded { offset, except });
            assert_eq!(
                Envelope::decode(Bytes::from(data.clone())),
                Some(Envelope {
                    origin: 42,
                    message,
                    recorded,
                })
            );
            data[17] += 1; // an offset length past the end
            data.truncate(18 + text.len() - 1);
            assert_eq!(Envelope::decode(Bytes::from(data)), None);
        }
    }

    #[test]
    fn orders_round_trip_sends_and_closes_exactly() {
        for command in [
            Command::Send(Message::from("héllo")),
            Command::Send(Message::Binary(Bytes::from_static(&[0, 255]))),
            Command::Close(CloseCode::new(4001), "gone".to_owned()),
            Command::CaughtUp("room:1".to_owned()),
        ] {
            let order = Order { conn: 7, command };
            assert_eq!(Order::decode(order.encode()), Some(order));
        }
        assert_eq!(Order::decode(Bytes::from_static(b"short")), None);
    }

    #[test]
    fn records_round_trip() {
        for protocol in [None, Some("chat.v1".to_owned())] {
            let record = Record {
                id: 9,
                path: "/chat".to_owned(),
                query: "name=al%20ice&x=1".to_owned(),
                protocol,
            };
            assert_eq!(Record::parse(9, &record.value()), Some(record));
        }
        assert_eq!(Record::parse(1, "no newline"), None);
    }

    #[test]
    fn channels_name_their_scope() {
        for scope in [Scope::All, Scope::Path("/chat"), Scope::Topic("a:b")] {
            let channel = scope.channel("ws:");
            assert_eq!(Scope::of_channel(&channel, "ws:"), Some(scope));
        }
        assert_eq!(Scope::of_channel("other:all", "ws:"), None);
    }
}
