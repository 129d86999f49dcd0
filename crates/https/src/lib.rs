//! HTTPS for tandem's own HTTP clients (the `tandem dns` health checks and
//! app-state reads, `tandem edge invalidate`): which certificates a client
//! trusts (`trust`), the hyper-util connector that speaks plain HTTP or TLS
//! by the URL's scheme (`connector`), and an error text that keeps the
//! reason a connection failed (`reason`). rustls with the ring provider only
//! (aws-lc needs cmake); there is no way to turn verification off.
//!
//! Must not depend on any other tandem crate, so every client can use it.

mod connector;
mod reason;
mod trust;

pub use connector::{Connector, connector};
pub use reason::reason;
pub use trust::client_config;
