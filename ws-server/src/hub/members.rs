//! Live connections by resource path: all of them, one path's, the peers of a connection.

use std::sync::{Arc, OnceLock};

use super::{ConnId, Connection, sharded::Sharded};

/// The live connections of one resource path.
#[derive(Debug)]
pub(crate) struct Members {
    path: &'static str,
    conns: Sharded<ConnId, Connection>,
}

impl Members {
    pub(crate) fn new(path: &'static str) -> Members {
        Members {
            path,
            conns: Sharded::new(),
        }
    }

    pub(crate) fn path(&self) -> &'static str {
        self.path
    }

    pub(crate) fn insert(&self, conn: &Connection) {
        self.conns.shard(&conn.id()).insert(conn.id(), conn.clone());
    }

    pub(crate) fn remove(&self, id: ConnId) {
        self.conns.shard(&id).remove(&id);
    }

    pub(crate) fn get(&self, id: ConnId) -> Option<Connection> {
        self.conns.shard(&id).get(&id).cloned()
    }

    pub(crate) fn len(&self) -> usize {
        self.conns.len()
    }

    /// Every connection but `except`, cloned out so that no lock is held afterwards.
    pub(crate) fn snapshot(&self, except: Option<ConnId>, into: &mut Vec<Connection>) {
        for shard in self.conns.each_shard() {
            into.extend(
                shard
                    .values()
                    .filter(|conn| Some(conn.id()) != except)
                    .cloned(),
            );
        }
    }
}

/// Every resource path's live connections; the set of paths is fixed when the server
/// binds.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    routes: OnceLock<Vec<Arc<Members>>>,
}

impl Registry {
    /// Fixes the set of paths, once.
    pub(crate) fn set_routes(&self, routes: Vec<Arc<Members>>) {
        let _ = self.routes.set(routes);
    }

    /// Every path's connections.
    pub(crate) fn routes(&self) -> &[Arc<Members>] {
        self.routes.get().map_or(&[], Vec::as_slice)
    }

    /// The connections of `path`, if a resource is served there.
    pub(crate) fn at(&self, path: &str) -> Option<&Arc<Members>> {
        self.routes().iter().find(|members| members.path() == path)
    }
}
