//! A resource that echoes and records what happens to it, keyed by a `tag` query parameter
//! so that tests running in parallel do not see each other's events.

use std::{
    collections::HashMap,
    sync::{
        Arc, LazyLock, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use ws_server::{Bytes, CloseCode, Connection, Handler, Rejection, Request, Text, ws_resource};

static EVENTS: LazyLock<Mutex<HashMap<String, Vec<String>>>> = LazyLock::new(Default::default);

pub(crate) fn unique_tag() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("t{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

pub(crate) fn record(tag: &str, event: impl Into<String>) {
    EVENTS
        .lock()
        .expect("events")
        .entry(tag.to_owned())
        .or_default()
        .push(event.into());
}

pub(crate) fn events(tag: &str) -> Vec<String> {
    EVENTS
        .lock()
        .expect("events")
        .get(tag)
        .cloned()
        .unwrap_or_default()
}

/// Waits until `done` holds for the tag's events, and returns them.
pub(crate) async fn wait_for(tag: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + super::STEP;
    loop {
        let seen = events(tag);
        if done(&seen) {
            return seen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "events for {tag} never matched: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Echoes messages and records `open`, `text:..`, `binary:LEN` and `close:CODE:REASON`.
/// Text commands: `close-me` closes with 4000; `sleep N` records `begin:N`, sleeps, then
/// `end:N`; `later` answers from another task; `panic` panics.
#[ws_resource("/record", max_payload = 1000, max_frames = 4, max_message = 2000)]
pub(crate) struct Recorder {
    tag: String,
    busy: Arc<AtomicBool>,
}

impl Handler for Recorder {
    async fn accept(request: &Request) -> Result<Self, Rejection> {
        Ok(Recorder {
            tag: request.query("tag").unwrap_or_default().into_owned(),
            busy: Arc::default(),
        })
    }

    async fn on_open(&mut self, _conn: &Connection) {
        record(&self.tag, "open");
    }

    async fn on_text(&mut self, conn: &Connection, text: Text) {
        assert!(
            !self.busy.swap(true, Ordering::SeqCst),
            "callbacks overlapped"
        );
        record(&self.tag, format!("text:{text}"));
        if text == "close-me" {
            conn.close(CloseCode::new(4000), "as you wish")
                .expect("close");
        } else if let Some(n) = text.strip_prefix("sleep ") {
            record(&self.tag, format!("begin:{n}"));
            tokio::time::sleep(Duration::from_millis(30)).await;
            record(&self.tag, format!("end:{n}"));
        } else if text == "panic" {
            panic!("the test asked for a panic");
        } else if text == "later" {
            let conn = conn.clone();
            tokio::spawn(async move { conn.send_text("from another task").await });
        } else {
            let _ = conn.send_text(text).await;
        }
        self.busy.store(false, Ordering::SeqCst);
    }

    async fn on_binary(&mut self, conn: &Connection, data: Bytes) {
        record(&self.tag, format!("binary:{}", data.len()));
        let _ = conn.send_binary(data).await;
    }

    async fn on_close(&mut self, conn: &Connection, code: CloseCode, reason: &str) {
        record(&self.tag, format!("close:{}:{reason}", code.as_u16()));
        // Sending after the end must fail rather than queue forever.
        assert!(conn.send_text("too late").await.is_err());
    }
}
