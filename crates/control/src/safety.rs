//! The safety rule of operator state changes, shared by `tandem state set`
//! and the console's state-change control: a state that leaves an app with
//! no working write region (fenced, or a write region whose `/health` does
//! not answer ok) is refused unless the operator forces it. The callers
//! probe the write region's health their own way (the CLI through its
//! configured client, a node through the region URLs it knows); the rule
//! and its wording are here, once.

use crate::{AppSpec, AppState};

/// What a probe of the would-be write region found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// It answered, but not "ok" (the answer, for the message).
    Unhealthy(String),
    /// It did not answer (why).
    Unreachable(String),
}

/// The region whose health decides whether `state` is safe for `spec`, or
/// the refusal when the state has no write region at all.
pub fn region_to_probe(spec: &AppSpec, state: AppState) -> Result<&str, String> {
    spec.write_region(state)
        .ok_or_else(|| format!("{} leaves {} with no write region", state.as_str(), spec.id))
}

/// The refusal of a change to `state` whose write region `region` was found
/// in `health`, if it is refused.
pub fn refusal(spec: &AppSpec, region: &str, health: &Health) -> Option<String> {
    match health {
        Health::Ok => None,
        Health::Unhealthy(answer) => Some(format!(
            "{region}, which would take {}'s writes, is not healthy ({answer})",
            spec.id
        )),
        Health::Unreachable(why) => Some(format!("{region}, which would take {}'s writes, is not reachable ({why})", spec.id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> AppSpec {
        serde_json::from_value(serde_json::json!({
            "id": "photos", "primary": "us-east", "secondary": "ap-tokyo"
        }))
        .unwrap()
    }

    #[test]
    fn fencing_has_no_write_region_and_is_refused() {
        let why = region_to_probe(&spec(), AppState::Fenced).unwrap_err();
        assert_eq!(why, "fenced leaves photos with no write region");
    }

    #[test]
    fn a_state_is_refused_only_when_its_write_region_is_not_ok() {
        assert_eq!(region_to_probe(&spec(), AppState::Failover), Ok("ap-tokyo"));
        assert_eq!(refusal(&spec(), "ap-tokyo", &Health::Ok), None);
        let down = refusal(&spec(), "ap-tokyo", &Health::Unreachable("connection refused".into())).unwrap();
        assert!(
            down.contains("ap-tokyo, which would take photos's writes, is not reachable"),
            "{down}"
        );
    }
}
