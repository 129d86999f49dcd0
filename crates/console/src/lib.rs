//! The web console served by every node and by the edge at
//! `/_tandem/console`: its static page (HTML, script, style and the bundled
//! chart library, all inside the binary), the session a signed-in operator's page
//! carries, and the small in-process time series of replication
//! lag and backlog that the node keeps for the console's charts. The data
//! endpoints themselves are the node's (`tandem-node`'s `console.rs`) and
//! the edge's; this crate knows nothing of stores or regions.

pub mod assets;
pub mod series;
pub mod session;

/// Path of the console's page; everything of the console is under it.
pub const PATH: &str = "/_tandem/console";
