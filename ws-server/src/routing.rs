//! Resources by path: the link-time table `#[ws_resource]` fills, and the router built from
//! it at start-up.

use std::{collections::HashMap, fmt, io, sync::Arc};

use hyper::upgrade::OnUpgrade;

use crate::{
    Handler, ResourceConfig,
    config::ResourceSettings,
    hub::Members,
    upgrade::{ResourceCount, ResponseFuture, UpgradeContext, upgrade_to},
};

/// A resource as registered: its path, settings and the upgrade entry point monomorphised
/// for its handler type. Built in a `const` so that `inventory` can place it in a static.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Route {
    path: &'static str,
    type_name: fn() -> &'static str,
    config: ResourceConfig,
    upgrade: fn(http::request::Parts, OnUpgrade, UpgradeContext) -> ResponseFuture,
}

impl Route {
    /// The route of resource `H`.
    pub const fn of<H: Handler>() -> Route {
        Route {
            path: H::PATH,
            type_name: std::any::type_name::<H>,
            config: H::CONFIG,
            upgrade: upgrade_to::<H>,
        }
    }

    pub(crate) fn path(&self) -> &'static str {
        self.path
    }

    pub(crate) fn type_name(&self) -> &'static str {
        (self.type_name)()
    }

    pub(crate) fn upgrade(
        &self,
        request: http::request::Parts,
        on_upgrade: OnUpgrade,
        cx: UpgradeContext,
    ) -> ResponseFuture {
        (self.upgrade)(request, on_upgrade, cx)
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("path", &self.path)
            .field("handler", &self.type_name())
            .field("config", &self.config)
            .finish()
    }
}

inventory::collect!(Route);

/// Every route `#[ws_resource]` registered anywhere in the program.
pub(crate) fn registered() -> impl Iterator<Item = Route> {
    inventory::iter::<Route>.into_iter().copied()
}

/// A route with the settings in force for it.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) route: Route,
    pub(crate) settings: ResourceSettings,
    /// The live connections at this path.
    pub(crate) members: Arc<Members>,
    /// Connections admitted here and not yet ended.
    pub(crate) count: Arc<ResourceCount>,
}

/// Exact-path lookup of routes.
#[derive(Debug)]
pub(crate) struct Router {
    by_path: HashMap<&'static str, Entry>,
}

impl Router {
    /// Builds the table; `defaults` supply what a resource leaves unset.
    ///
    /// # Errors
    /// `InvalidInput` naming both handler types when two resources claim one path.
    pub(crate) fn new(
        routes: impl IntoIterator<Item = Route>,
        defaults: ResourceSettings,
    ) -> io::Result<Router> {
        let mut by_path: HashMap<&'static str, Entry> = HashMap::new();
        for route in routes {
            if let Some(existing) = by_path.get(route.path()) {
                if existing.route.type_name() == route.type_name() {
                    continue;
                }
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "two WebSocket resources at path {:?}: `{}` and `{}`",
                        route.path(),
                        existing.route.type_name(),
                        route.type_name()
                    ),
                ));
            }
            by_path.insert(
                route.path(),
                Entry {
                    route,
                    settings: route.config.over(defaults),
                    members: Arc::new(Members::new(route.path())),
                    count: Arc::default(),
                },
            );
        }
        Ok(Router { by_path })
    }

    pub(crate) fn get(&self, path: &str) -> Option<&Entry> {
        self.by_path.get(path)
    }

    pub(crate) fn paths(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.by_path.keys().copied()
    }

    /// Every path's live connections, for the registry.
    pub(crate) fn members(&self) -> Vec<Arc<Members>> {
        self.by_path
            .values()
            .map(|entry| entry.members.clone())
            .collect()
    }
}
