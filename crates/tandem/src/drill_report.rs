//! What a drill measured, computed from what its workload and sampler saw:
//! RTO (first failed write to the first acknowledged one after it), RPO
//! (acknowledged writes missing after recovery, by id, beside the exposure
//! the system predicted), replication lag, client errors, convergence, and
//! the targets of `[drill]`. Printed as a table and kept as JSON.

use serde::Serialize;

use crate::drill_load::{Kind, Observations, Write};

/// The drill's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub app: String,
    pub run: String,
    pub failure: String,
    /// When the failure was injected, ms since the start.
    pub injected_at_ms: u64,
    /// `None`: writes failed and never recovered.
    pub rto_seconds: Option<f64>,
    /// Acknowledged writes missing after recovery, by kind and id.
    pub rpo_missing: Vec<String>,
    /// After a kill: acknowledged writes the secondary lacked while the
    /// primary was down (before the restart let the primary ship them).
    pub rpo_missing_during_outage: Option<Vec<String>>,
    /// Look-ups that failed (neither found nor known to be missing).
    pub verify_errors: Vec<String>,
    /// Changes the secondary had not received from the primary just before
    /// the failure, as the regions' heartbeats told it.
    pub rpo_predicted_changes: Option<u64>,
    pub writes_acknowledged: u64,
    pub writes_failed: u64,
    pub reads_ok: u64,
    pub reads_failed: u64,
    /// Highest replication lag any region showed from the failure on.
    pub max_lag_seconds: f64,
    /// Acknowledged writes before the failure, and from its injection to
    /// the recovery step (heal, unslow, failback): a slowed primary shows here.
    pub write_latency_before: Option<Latency>,
    pub write_latency_during: Option<Latency>,
    pub max_backlog_changes: u64,
    pub converge_seconds: Option<f64>,
    /// `tandem replication diff` of each bucket and table at the end:
    /// "in sync", "N difference(s)", or why it could not run.
    pub diff: Vec<(String, String)>,
    pub regions_served: Vec<String>,
    pub targets: Targets,
}

/// Latency percentiles of acknowledged writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Latency {
    pub writes: usize,
    pub p50_ms: u64,
    pub p99_ms: u64,
}

/// The latency of the acknowledged writes sent in `from_ms..to_ms`, if any.
pub fn latency(writes: &[Write], from_ms: u64, to_ms: u64) -> Option<Latency> {
    let mut took: Vec<u64> = writes
        .iter()
        .filter(|w| w.acknowledged && (from_ms..to_ms).contains(&w.at_ms))
        .map(|w| w.took_ms)
        .collect();
    took.sort_unstable();
    let at = |q: f64| took[((took.len() - 1) as f64 * q).round() as usize];
    (!took.is_empty()).then(|| Latency {
        writes: took.len(),
        p50_ms: at(0.5),
        p99_ms: at(0.99),
    })
}

/// `[drill] rto_seconds` / `rpo_writes`, and whether they were met.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Targets {
    pub rto_seconds: Option<f64>,
    pub rpo_writes: Option<u64>,
    pub missed: Vec<String>,
}

/// For each kind of write, from its first failure at or after `from_ms` to
/// the first acknowledgement sent after it; the longer of the two, 0 when
/// no write failed, `None` when a kind failed and never recovered.
pub fn rto_seconds(writes: &[Write], from_ms: u64) -> Option<f64> {
    let of_kind = |kind: Kind| -> Option<f64> {
        let mut sorted: Vec<&Write> = writes.iter().filter(|w| w.kind == kind && w.at_ms >= from_ms).collect();
        sorted.sort_by_key(|w| w.at_ms);
        let Some(first_failure) = sorted.iter().find(|w| !w.acknowledged) else {
            return Some(0.0);
        };
        let recovered = sorted.iter().find(|w| w.acknowledged && w.at_ms > first_failure.at_ms)?;
        Some((recovered.at_ms - first_failure.at_ms) as f64 / 1000.0)
    };
    Some(f64::max(of_kind(Kind::Object)?, of_kind(Kind::Item)?))
}

/// `kind/id` of a write, as the report names it.
pub fn write_name(w: &Write) -> String {
    match w.kind {
        Kind::Object => format!("object/{}", w.id),
        Kind::Item => format!("item/{}", w.id),
    }
}

/// Lag and backlog peaks from `from_ms` on, over every region.
pub fn peaks(seen: &Observations, from_ms: u64) -> (f64, u64) {
    let during = seen.samples.iter().filter(|s| s.at_ms >= from_ms && s.reachable);
    during.fold((0.0, 0), |(lag, backlog), s| {
        (f64::max(lag, s.lag_seconds), backlog.max(s.backlog_changes))
    })
}

impl Report {
    /// Fills in which targets were missed.
    pub fn judge(&mut self) {
        let mut missed = Vec::new();
        match (self.rto_seconds, self.targets.rto_seconds) {
            (None, _) => missed.push("writes failed and never recovered".to_string()),
            (Some(got), Some(rto)) if got > rto => missed.push(format!("RTO {got:.2} s is over the target of {rto} s")),
            _ => {}
        }
        if let Some(rpo) = self.targets.rpo_writes
            && self.rpo_missing.len() as u64 > rpo
        {
            missed.push(format!("RPO {} writes is over the target of {rpo}", self.rpo_missing.len()));
        }
        self.targets.missed = missed;
    }

    /// The table an operator reads.
    pub fn print(&self) {
        let target = |t: Option<String>| t.map(|t| format!("   (target {t})")).unwrap_or_default();
        println!();
        println!("drill {} of {} ({})", self.run, self.app, self.failure);
        let rto = self.rto_seconds.map_or("not recovered".to_string(), |s| format!("{s:.2} s"));
        println!(
            "  {:<28} {rto}{}",
            "RTO",
            target(self.targets.rto_seconds.map(|t| format!("{t} s")))
        );
        println!(
            "  {:<28} {} write(s) missing{}",
            "RPO",
            self.rpo_missing.len(),
            target(self.targets.rpo_writes.map(|t| t.to_string()))
        );
        for missing in &self.rpo_missing {
            println!("  {:<28} {missing}", "  missing");
        }
        if let Some(during) = &self.rpo_missing_during_outage {
            println!("  {:<28} {} write(s) not in the secondary", "RPO during the outage", during.len());
        }
        for e in &self.verify_errors {
            println!("  {:<28} {e}", "could not check");
        }
        let predicted = self
            .rpo_predicted_changes
            .map_or("unknown".to_string(), |c| format!("{c} change(s)"));
        println!("  {:<28} {predicted}", "RPO exposure predicted");
        println!(
            "  {:<28} {} acknowledged, {} failed",
            "writes", self.writes_acknowledged, self.writes_failed
        );
        println!("  {:<28} {} ok, {} failed", "reads", self.reads_ok, self.reads_failed);
        println!(
            "  {:<28} {:.2} s (backlog up to {} changes)",
            "replication lag (max)", self.max_lag_seconds, self.max_backlog_changes
        );
        let latency = |l: Option<Latency>| l.map_or("none".to_string(), |l| format!("{}/{} ms", l.p50_ms, l.p99_ms));
        println!(
            "  {:<28} {} before, {} during the failure",
            "write latency (p50/p99)",
            latency(self.write_latency_before),
            latency(self.write_latency_during)
        );
        let converge = self.converge_seconds.map_or("not measured".to_string(), |s| format!("{s:.2} s"));
        println!("  {:<28} {converge}", "converged after failback");
        for (what, result) in &self.diff {
            println!("  {:<28} {result}", format!("diff {what}"));
        }
        println!("  {:<28} {}", "regions that served writes", self.regions_served.join(", "));
        match self.targets.missed.is_empty() {
            true => println!("  targets met"),
            false => self.targets.missed.iter().for_each(|m| println!("  TARGET MISSED: {m}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(at_ms: u64, acknowledged: bool) -> Write {
        of(Kind::Object, at_ms, acknowledged)
    }

    fn of(kind: Kind, at_ms: u64, acknowledged: bool) -> Write {
        Write {
            id: at_ms.to_string(),
            kind,
            at_ms,
            acknowledged,
            took_ms: at_ms % 1000,
            region: None,
            error: None,
        }
    }

    #[test]
    fn latency_takes_the_acknowledged_writes_of_the_window() {
        // took_ms is at_ms % 1000 here: 10, 20, ... 990 in the first second.
        let writes: Vec<Write> = (1..=99).map(|i| w(i * 10, true)).chain([w(5, false), w(2000, true)]).collect();
        let first = latency(&writes, 0, 1000).unwrap();
        assert_eq!(
            first,
            Latency {
                writes: 99,
                p50_ms: 500,
                p99_ms: 980
            }
        );
        assert_eq!(latency(&writes, 1000, 3000).unwrap().writes, 1);
        assert_eq!(latency(&writes, 3000, 4000), None);
    }

    #[test]
    fn rto_runs_from_the_first_failure_to_the_next_acknowledgement() {
        let writes = [
            w(0, true),
            w(100, true),
            w(200, false),
            w(700, false),
            w(1450, true),
            w(1500, false),
            w(1600, true),
        ];
        assert_eq!(rto_seconds(&writes, 0), Some(1.25));
        assert_eq!(rto_seconds(&writes, 1450), Some(0.1));
        assert_eq!(rto_seconds(&writes[..2], 0), Some(0.0));
        assert_eq!(rto_seconds(&[w(100, false), w(900, false)], 0), None, "never recovered");
    }

    #[test]
    fn rto_is_the_longer_outage_of_objects_and_items() {
        let writes = [w(0, false), of(Kind::Item, 10, false), w(300, true), of(Kind::Item, 2010, true)];
        assert_eq!(
            rto_seconds(&writes, 0),
            Some(2.0),
            "the items' outage, not ended by an object's recovery"
        );
    }

    #[test]
    fn targets_are_judged_against_the_figures() {
        let mut r = Report {
            app: "a".into(),
            run: "r".into(),
            failure: "planned".into(),
            injected_at_ms: 0,
            rto_seconds: Some(3.5),
            rpo_missing: vec!["object/1".into()],
            rpo_missing_during_outage: None,
            verify_errors: vec![],
            rpo_predicted_changes: Some(1),
            writes_acknowledged: 10,
            writes_failed: 2,
            reads_ok: 5,
            reads_failed: 0,
            max_lag_seconds: 0.0,
            write_latency_before: None,
            write_latency_during: None,
            max_backlog_changes: 0,
            converge_seconds: None,
            diff: vec![],
            regions_served: vec![],
            targets: Targets {
                rto_seconds: Some(3.0),
                rpo_writes: Some(0),
                missed: vec![],
            },
        };
        r.judge();
        assert_eq!(r.targets.missed.len(), 2);
        r.rto_seconds = Some(1.0);
        r.rpo_missing.clear();
        r.judge();
        assert!(r.targets.missed.is_empty());
        r.rto_seconds = None;
        r.judge();
        assert_eq!(r.targets.missed, ["writes failed and never recovered"]);
    }
}
