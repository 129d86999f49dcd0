//! Every operation of the control API under `/_tandem/`, as one typed enum
//! parsed once per request from its method and path: its metrics label, its
//! IAM action (`tandem:SetAppState`, ...), whether it writes, and who may
//! call it. Reading the change log, inventories, resync, apply, destroy and
//! state changes need an admin key or an identity policy allowing the
//! action; `GetAppState` is public (the seeds' routing layer reads it without
//! credentials); `ReplicationApply` takes only the replication credential.

use hyper::Method;
use tandem_iam::{Caller, Context, Decision, Request, Verdict};

/// An operation's row: IAM action, whether it writes, who may call it.
#[derive(Debug, Clone, Copy)]
pub struct OpInfo {
    pub action: &'static str,
    pub writes: bool,
    pub access: Access,
}

/// Who may call a control operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// Admin keys, or keys whose policy allows the action.
    Authorized,
    /// Only the region-to-region credential.
    Replication,
}

const fn op(action: &'static str, writes: bool, access: Access) -> OpInfo {
    OpInfo { action, writes, access }
}

tandem_iam::operations! {
    /// One control API operation.
    pub enum ControlOp: OpInfo {
        GetAppState => op("tandem:GetAppState", false, Access::Public),
        SetAppState => op("tandem:SetAppState", true, Access::Authorized),
        ListApps => op("tandem:ListApps", false, Access::Authorized),
        GetAppHistory => op("tandem:GetAppHistory", false, Access::Authorized),
        ListRegions => op("tandem:ListRegions", false, Access::Authorized),
        Apply => op("tandem:Apply", true, Access::Authorized),
        Destroy => op("tandem:Destroy", true, Access::Authorized),
        ReadChanges => op("tandem:ReadChanges", false, Access::Authorized),
        ReplicationStatus => op("tandem:GetReplicationStatus", false, Access::Authorized),
        ReadInventory => op("tandem:ReadInventory", false, Access::Authorized),
        Resync => op("tandem:Resync", true, Access::Authorized),
        ReplicationApply => op("tandem:ReplicationApply", true, Access::Replication),
        ReplicationHeartbeat => op("tandem:ReplicationHeartbeat", true, Access::Replication),
        RecordDrill => op("tandem:RecordDrill", true, Access::Authorized),
        ListDrills => op("tandem:ListDrills", false, Access::Authorized),
    }
}

impl ControlOp {
    /// The operation of a control request (`Unknown` for any other path).
    pub fn of(method: &Method, path: &str) -> Self {
        if crate::apps::state_path(path).is_some() {
            return match *method {
                Method::GET => ControlOp::GetAppState,
                Method::PUT => ControlOp::SetAppState,
                _ => ControlOp::Unknown,
            };
        }
        match (method.clone(), path) {
            (Method::GET, "/_tandem/apps") => ControlOp::ListApps,
            (Method::GET, path) if crate::control::history_path(path).is_some() => ControlOp::GetAppHistory,
            (Method::GET, "/_tandem/regions") => ControlOp::ListRegions,
            (Method::POST, crate::apps::APPLY_PATH) => ControlOp::Apply,
            (Method::POST, crate::apps::DESTROY_PATH) => ControlOp::Destroy,
            (Method::GET, "/_tandem/changes") => ControlOp::ReadChanges,
            (Method::POST, crate::drills::PATH) => ControlOp::RecordDrill,
            (Method::GET, crate::drills::PATH) => ControlOp::ListDrills,
            (Method::GET, "/_tandem/replication") => ControlOp::ReplicationStatus,
            (Method::GET, "/_tandem/replication/inventory") => ControlOp::ReadInventory,
            (Method::POST, "/_tandem/replication/resync") => ControlOp::Resync,
            (Method::POST, tandem_replication::shipper::APPLY_PATH) => ControlOp::ReplicationApply,
            (Method::POST, tandem_replication::heartbeat::HEARTBEAT_PATH) => ControlOp::ReplicationHeartbeat,
            _ => ControlOp::Unknown,
        }
    }

    fn row(self) -> OpInfo {
        self.info().unwrap_or(op("tandem:Unknown", false, Access::Authorized))
    }

    pub fn action(self) -> &'static str {
        self.row().action
    }

    pub fn writes(self) -> bool {
        self.row().writes
    }

    pub fn access(self) -> Access {
        self.row().access
    }

    /// The resource ARN of the operation in `region` (an app, or the region's control plane).
    pub fn resource(self, region: &str, app: Option<&str>) -> String {
        let account = tandem_iam::decide::ACCOUNT;
        match app {
            Some(id) => format!("arn:aws:tandem:{region}:{account}:app/{id}"),
            None => format!("arn:aws:tandem:{region}:{account}:control"),
        }
    }

    /// Whether `caller` may perform the operation; the error says why not.
    pub fn authorize(self, caller: &Caller, resource: &str, context: &Context) -> Result<(), String> {
        if self.access() == Access::Public {
            return Ok(());
        }
        let request = Request {
            action: self.action(),
            resource,
            who: caller.who(),
            context,
        };
        // Keys without a policy get no control access unless they are admins.
        let allowed =
            self.access() == Access::Authorized && tandem_iam::decide(Some(caller), &request, Verdict::Silent, || false) == Decision::Allow;
        match allowed {
            true => Ok(()),
            false => Err(format!(
                "{} is not authorized to perform {} on {resource} (an admin key or a policy allowing it is needed)",
                caller.principal,
                self.action()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_to_their_operation() {
        assert_eq!(ControlOp::of(&Method::GET, "/_tandem/apps/photos/state"), ControlOp::GetAppState);
        assert_eq!(ControlOp::of(&Method::PUT, "/_tandem/apps/photos/state"), ControlOp::SetAppState);
        assert_eq!(ControlOp::of(&Method::DELETE, "/_tandem/apps/photos/state"), ControlOp::Unknown);
        assert_eq!(ControlOp::of(&Method::GET, "/_tandem/changes"), ControlOp::ReadChanges);
        assert_eq!(ControlOp::of(&Method::GET, "/_tandem/whatever"), ControlOp::Unknown);
        for op in ControlOp::ALL {
            assert!(op.action().starts_with("tandem:"));
        }
    }
}
