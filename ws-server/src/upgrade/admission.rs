//! Caps on open connections: server-wide, per resource and per client IP address. A slot
//! is taken before the upgrade and given back when the connection has ended.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use http::StatusCode;

use crate::Rejection;

/// The server-wide counts, shared by every resource.
#[derive(Debug, Default)]
pub(crate) struct Admissions {
    open: AtomicUsize,
    max_open: Option<usize>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    max_per_ip: Option<usize>,
}

/// One resource's count of open connections.
#[derive(Debug, Default)]
pub(crate) struct ResourceCount {
    open: AtomicUsize,
}

/// A connection's place in the counts, held until it ends.
#[derive(Debug)]
pub(crate) struct Slot {
    admissions: Arc<Admissions>,
    resource: Arc<ResourceCount>,
    ip: Option<IpAddr>,
}

impl Admissions {
    pub(crate) fn new(max_open: Option<usize>, max_per_ip: Option<usize>) -> Admissions {
        Admissions {
            max_open,
            max_per_ip,
            ..Admissions::default()
        }
    }

    /// Connections admitted and not yet ended, server-wide.
    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Takes a slot for a connection from `ip` (where known: the per-address cap needs it)
    /// to a resource allowing `resource_max`.
    ///
    /// # Errors
    /// 503 if the server or the resource is full, 429 if this address has its share.
    pub(crate) fn admit(
        self: &Arc<Self>,
        resource: &Arc<ResourceCount>,
        resource_max: Option<usize>,
        ip: Option<IpAddr>,
    ) -> Result<Slot, Rejection> {
        let mut slot = Slot {
            admissions: self.clone(),
            resource: resource.clone(),
            ip: None,
        };
        // Counted first and checked after, so that racing upgrades cannot both slip in;
        // the slot gives the counts back if it is refused.
        let open = self.open.fetch_add(1, Ordering::AcqRel) + 1;
        let at_resource = resource.open.fetch_add(1, Ordering::AcqRel) + 1;
        if self.max_open.is_some_and(|max| open > max) {
            return Err(Rejection::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is at its connection limit",
            ));
        }
        if resource_max.is_some_and(|max| at_resource > max) {
            return Err(Rejection::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "this resource is at its connection limit",
            ));
        }
        if let (Some(max), Some(ip)) = (self.max_per_ip, ip) {
            let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
            let count = per_ip.entry(ip).or_default();
            if *count >= max {
                return Err(Rejection::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many connections from this address",
                ));
            }
            *count += 1;
            slot.ip = Some(ip);
        }
        Ok(slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.admissions.open.fetch_sub(1, Ordering::AcqRel);
        self.resource.open.fetch_sub(1, Ordering::AcqRel);
        if let Some(ip) = self.ip {
            let mut per_ip = self
                .admissions
                .per_ip
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some(count) = per_ip.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    per_ip.remove(&ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const AWAY: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));

    #[test]
    fn limits_refuse_and_ended_connections_give_their_slots_back() {
        let admissions = Arc::new(Admissions::new(Some(3), Some(2)));
        let chat = Arc::new(ResourceCount::default());
        let feed = Arc::new(ResourceCount::default());
        let first = admissions.admit(&chat, Some(2), Some(HOME)).expect("first");
        let _second = admissions.admit(&chat, None, Some(AWAY)).expect("second");
        let status = |result: Result<Slot, Rejection>| result.err().map(|r| r.status());
        assert_eq!(
            status(admissions.admit(&chat, Some(2), Some(AWAY))),
            Some(StatusCode::SERVICE_UNAVAILABLE)
        );
        let _third = admissions.admit(&feed, None, Some(HOME)).expect("third");
        assert_eq!(
            status(admissions.admit(&feed, None, Some(AWAY))),
            Some(StatusCode::SERVICE_UNAVAILABLE)
        );
        assert_eq!(admissions.open(), 3);
        drop(first);
        assert_eq!(
            status(admissions.admit(&feed, None, Some(HOME))),
            None,
            "HOME has one of its two slots back"
        );
        assert_eq!(
            admissions.open(),
            2,
            "the refused and the dropped gave theirs back"
        );
        assert_eq!(chat.open.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn the_per_address_cap_counts_each_address_apart() {
        let admissions = Arc::new(Admissions::new(None, Some(1)));
        let chat = Arc::new(ResourceCount::default());
        let home = admissions.admit(&chat, None, Some(HOME)).expect("home");
        let refused = admissions
            .admit(&chat, None, Some(HOME))
            .err()
            .map(|r| r.status());
        assert_eq!(refused, Some(StatusCode::TOO_MANY_REQUESTS));
        let _away = admissions.admit(&chat, None, Some(AWAY)).expect("away");
        drop(home);
        let _home = admissions
            .admit(&chat, None, Some(HOME))
            .expect("home again");
        assert_eq!(admissions.per_ip.lock().expect("lock").len(), 2);
    }
}
