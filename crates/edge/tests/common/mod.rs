//! What the edge's integration tests share: the settings of an edge with
//! only a `[edge]` section (no regions, apps or keys) on a free port.

use tandem_edge::{EdgeSection, EdgeSettings};

pub fn settings(section: EdgeSection) -> EdgeSettings {
    EdgeSettings {
        node: "t".into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        section,
        regions: vec![],
        apps: vec![],
        keys: vec![],
        sessions: None,
        limits: tandem_node::ServerLimits::default(),
    }
}
