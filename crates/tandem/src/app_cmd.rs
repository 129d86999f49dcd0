//! Operator commands for applications: `tandem apply`, `tandem state get|set`,
//! `tandem failover [--planned]` and `tandem failback`. They talk to the
//! regions' control API; a state change is made in one region and replicates.

use std::time::{Duration, Instant};

use http::Method;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use tandem_control::AppSpec;

use crate::config::{Config, RegionConfig};
use crate::control_client::{CallError, ControlClient};

fn app<'c>(config: &'c Config, id: &str) -> Result<&'c AppSpec, String> {
    config.apps.iter().find(|a| a.id == id).ok_or_else(|| {
        let known: Vec<&str> = config.apps.iter().map(|a| a.id.as_str()).collect();
        format!("no app named {id:?} in the config (apps: {})", known.join(", "))
    })
}

fn region<'c>(config: &'c Config, name: &str) -> Result<&'c RegionConfig, String> {
    config.region(name).map_err(|e| e.to_string())
}

fn state_path(app: &str) -> String {
    format!("/_tandem/apps/{app}/state")
}

/// Sets an app's state through one region; returns the new view (with `Seq`).
async fn put_state(client: &ControlClient, region: &RegionConfig, app: &str, state: &str, reason: &str) -> Result<Value, String> {
    let body = json!({ "AppId": app, "NewState": state, "Reason": reason });
    client
        .call_with(region, Method::PUT, &state_path(app), Some(&body))
        .await
        .map_err(|e| format!("{}: {e}", region.name))
}

fn print_view(view: &Value) {
    println!(
        "{:<10} {:<10} {:<9} write region {:<10} (version {}, by {}, {})",
        view["ServedBy"].as_str().unwrap_or("?"),
        view["AppId"].as_str().unwrap_or("?"),
        view["State"].as_str().unwrap_or("?"),
        view["WriteRegion"].as_str().unwrap_or("none"),
        view["Version"],
        view["ChangedBy"].as_str().filter(|s| !s.is_empty()).unwrap_or("-"),
        view["Reason"].as_str().unwrap_or(""),
    );
}

/// `tandem state get APP`: the state as every region sees it.
pub async fn state_get(config: &Config, id: &str, output: crate::output::Output) -> Result<(), String> {
    app(config, id)?;
    let client = ControlClient::new(config)?;
    if output.json() {
        let mut views = serde_json::Map::new();
        for r in &config.regions {
            let view = client.call(r, Method::GET, &state_path(id)).await;
            views.insert(r.name.clone(), view.unwrap_or_else(|e| json!({ "error": e.to_string() })));
        }
        crate::output::print_json(&json!({ "app": id, "regions": views }));
        return Ok(());
    }
    for r in &config.regions {
        match client.call(r, Method::GET, &state_path(id)).await {
            Ok(view) => print_view(&view),
            Err(e) => println!("{:<10} {e}", r.name),
        }
    }
    Ok(())
}

/// Longest time `tandem state set APP fenced --for SECS` may leave an app
/// with no write region.
pub const MAX_FENCED_SECS: u64 = 300;

/// How `tandem state set` may leave an app without a write region.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetSafety {
    /// Do it anyway, with no bound.
    pub force: bool,
    /// Fence for at most this long, then put the previous state back.
    pub fenced_for: Option<Duration>,
}

/// Why `state` would leave the app with no region taking its writes, if it
/// would; `None` when its write region is up (the rule of
/// [`tandem_control::safety`], which the console applies too).
async fn leaves_no_write_region(client: &ControlClient, config: &Config, spec: &AppSpec, state: &str) -> Result<Option<String>, String> {
    use tandem_control::safety::{self, Health};
    let state = tandem_control::AppState::parse(state).ok_or_else(|| format!("{state} is not a state: use active, fenced or failover"))?;
    let write_region = match safety::region_to_probe(spec, state) {
        Ok(region) => region,
        Err(why) => return Ok(Some(why)),
    };
    let health = match client.health(region(config, write_region)?).await {
        Ok(h) if h["status"] == "ok" => Health::Ok,
        Ok(h) => Health::Unhealthy(h.to_string()),
        Err(e) => Health::Unreachable(e.to_string()),
    };
    Ok(safety::refusal(spec, write_region, &health))
}

/// `tandem state set APP STATE [--force | --for SECS]`: made in the first
/// region that answers. A state that leaves the app with no working write
/// region (fenced, or a write region that is down) is refused unless
/// `--force`; a fence may instead be bounded with `--for`, after which the
/// previous state is put back.
pub async fn state_set(config: &Config, id: &str, state: &str, reason: &str, safety: SetSafety) -> Result<(), String> {
    let spec = app(config, id)?;
    let client = ControlClient::new(config)?;
    let bounded = safety.fenced_for.filter(|_| state == "fenced");
    if safety.fenced_for.is_some() && bounded.is_none() {
        return Err(format!("--for bounds a fence only; run `tandem state set {id} {state}` without it"));
    }
    if !safety.force
        && bounded.is_none()
        && let Some(why) = leaves_no_write_region(&client, config, spec, state).await?
    {
        let fix = match state {
            "fenced" => format!(
                "run `tandem state set {id} fenced --for 60` to fence it for at most 60 s (at most {MAX_FENCED_SECS}; the state before comes back after), \
                 `tandem failover {id} --planned` to move its writes without losing any, or `tandem state set {id} fenced --force` to fence it until you set it back"
            ),
            _ => format!("start it first, or run `tandem state set {id} {state} --force` to set it anyway"),
        };
        return Err(format!("{why}; nothing was changed.\n{fix}"));
    }
    let previous = current_view(&client, id, [region(config, &spec.primary)?, region(config, &spec.secondary)?])
        .await
        .and_then(|v| v["State"].as_str().map(str::to_string));
    let (made_in, view) = set_in_first_answering(&client, config, spec, id, state, reason).await?;
    print_view(&view);
    let (Some(bound), Some(previous)) = (bounded, previous) else {
        return Ok(());
    };
    if previous == "fenced" {
        return Ok(());
    }
    println!("{id} is fenced for at most {bound:?}; then it is {previous} again (Ctrl-C ends the fence now)");
    tokio::select! {
        _ = tokio::time::sleep(bound) => {}
        _ = crate::dev::wait_for_signal() => {}
    }
    let restored = put_state(&client, made_in, id, &previous, &format!("end of a {bound:?} fence: {reason}"))
        .await
        .map_err(|e| format!("putting {previous} back failed ({e}); {id} is still fenced: run `tandem state set {id} {previous}`"))?;
    print_view(&restored);
    Ok(())
}

/// Sets the state through the app's primary, else its secondary.
async fn set_in_first_answering<'c>(
    client: &ControlClient,
    config: &'c Config,
    spec: &AppSpec,
    id: &str,
    state: &str,
    reason: &str,
) -> Result<(&'c RegionConfig, Value), String> {
    let mut last = String::new();
    for name in [&spec.primary, &spec.secondary] {
        let r = region(config, name)?;
        match put_state(client, r, id, state, reason).await {
            Ok(view) => return Ok((r, view)),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// How long a wait for replication goes on while the link reports failing
/// batches: past this the wait cannot be expected to finish, so it gives up
/// (and the caller restores the state it changed) instead of leaving the app
/// without a write region for the whole timeout.
const LINK_FAILING_BOUND: Duration = Duration::from_secs(5);

/// Waits until `to` has applied every change of `from` up to `seq`, with a
/// progress bar over `from`'s backlog towards `to`. Gives up at `timeout`,
/// or once the link has been failing for [`LINK_FAILING_BOUND`].
async fn wait_applied(client: &ControlClient, from: &RegionConfig, to: &str, seq: u64, timeout: Duration) -> Result<(), String> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").unwrap_or_else(|_| ProgressStyle::default_spinner()));
    bar.enable_steady_tick(Duration::from_millis(120));
    let deadline = Instant::now() + timeout;
    let mut failing_since: Option<Instant> = None;
    loop {
        let status = client
            .call(from, Method::GET, "/_tandem/replication")
            .await
            .map_err(|e| format!("{}: {e}", from.name))?;
        let peer = status["peers"]
            .as_array()
            .and_then(|peers| peers.iter().find(|p| p["peer"] == to))
            .cloned();
        let Some(peer) = peer else {
            return Err(format!("{} does not replicate to {to}", from.name));
        };
        let cursor = peer["backlog"]["cursor"].as_u64().unwrap_or(0);
        if cursor >= seq {
            bar.finish_and_clear();
            println!("{to} has applied every change of {} up to #{seq}", from.name);
            return Ok(());
        }
        bar.set_message(format!(
            "waiting for {to} to apply {} change(s) from {} (at #{cursor} of #{seq}, state {})",
            peer["backlog"]["changes"],
            from.name,
            peer["state"].as_str().unwrap_or("?")
        ));
        if Instant::now() >= deadline {
            bar.finish_and_clear();
            return Err(format!(
                "{to} had not applied {}'s changes up to #{seq} after {timeout:?} (it is at #{cursor})",
                from.name
            ));
        }
        let failing = peer["state"] == "failing";
        let since = *failing_since.get_or_insert_with(Instant::now);
        if !failing {
            failing_since = None;
        } else if since.elapsed() >= LINK_FAILING_BOUND {
            bar.finish_and_clear();
            let error = peer
                .pointer("/shipper/last_error")
                .and_then(Value::as_str)
                .unwrap_or("unknown error");
            return Err(format!(
                "replication from {} to {to} has been failing for {LINK_FAILING_BOUND:?} ({error}); {to} is at #{cursor} of #{seq}",
                from.name
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn seq_of(view: &Value) -> u64 {
    view["Seq"].as_u64().unwrap_or(0)
}

/// The app's state as the first of `regions` that answers sees it.
async fn current_view(client: &ControlClient, id: &str, regions: [&RegionConfig; 2]) -> Option<Value> {
    for r in regions {
        if let Ok(view) = client.call(r, Method::GET, &state_path(id)).await {
            return Some(view);
        }
    }
    None
}

/// Checks, before anything is changed, that `to` is healthy and that
/// replication from `from` to it is not failing, so a planned switch can
/// finish. The error says why not and what to run instead.
async fn preflight(client: &ControlClient, from: &RegionConfig, to: &RegionConfig, alternative: &str) -> Result<(), String> {
    let refuse = |why: String| format!("{why}; nothing was changed.\n{alternative}");
    match client.health(to).await {
        Ok(h) if h["status"] == "ok" => {}
        Ok(h) => return Err(refuse(format!("{} is not healthy ({h})", to.name))),
        Err(e) => return Err(refuse(format!("{} is not reachable ({e})", to.name))),
    }
    let status = client
        .call(from, Method::GET, "/_tandem/replication")
        .await
        .map_err(|e| refuse(format!("{} is not reachable ({e})", from.name)))?;
    let link = status["peers"]
        .as_array()
        .and_then(|peers| peers.iter().find(|p| p["peer"] == to.name.as_str()).cloned())
        .ok_or_else(|| refuse(format!("{} does not replicate to {}", from.name, to.name)))?;
    if link["state"] == "failing" {
        let error = link
            .pointer("/shipper/last_error")
            .and_then(Value::as_str)
            .unwrap_or("unknown error");
        return Err(refuse(format!(
            "replication from {} to {} is failing ({error})",
            from.name, to.name
        )));
    }
    Ok(())
}

/// Fences `from`, waits until `to` has every change, then sets `target` in
/// `to`. A wait that cannot finish puts back the state the app had before,
/// unless `stay_fenced`.
#[allow(clippy::too_many_arguments)]
async fn switch_with_fence(
    client: &ControlClient,
    id: &str,
    (from, to): (&RegionConfig, &RegionConfig),
    target: &str,
    previous: &str,
    what: &str,
    stay_fenced: bool,
    timeout: Duration,
) -> Result<Value, String> {
    let fenced = put_state(client, from, id, "fenced", &format!("{what}: fence {}", from.name)).await?;
    println!("{id} fenced in {} at #{}: no region takes writes", from.name, seq_of(&fenced));
    if let Err(e) = wait_applied(client, from, &to.name, seq_of(&fenced), timeout).await {
        if stay_fenced {
            return Err(format!(
                "{e}\n{id} stays fenced (--stay-fenced); run this again once the link is back"
            ));
        }
        put_state(client, from, id, previous, &format!("{what} abandoned: {e}"))
            .await
            .map_err(|restore| format!("{e}\nrestoring {previous} failed too ({restore}); {id} is fenced"))?;
        return Err(format!("{e}\n{what} abandoned: {id} is {previous} again, as before"));
    }
    put_state(client, to, id, target, what).await
}

/// `tandem failover APP [--planned] [--stay-fenced]`.
pub async fn failover(config: &Config, id: &str, planned: bool, stay_fenced: bool, timeout: Duration) -> Result<(), String> {
    let spec = app(config, id)?;
    let client = ControlClient::new(config)?;
    let (primary, secondary) = (region(config, &spec.primary)?, region(config, &spec.secondary)?);
    let view = current_view(&client, id, [secondary, primary]).await;
    let previous = view.as_ref().and_then(|v| v["State"].as_str()).unwrap_or("active").to_string();
    if previous == "failover" {
        println!("{id} is already failed over: {} takes its writes; nothing changed", secondary.name);
        return Ok(());
    }
    if planned {
        let alternative = format!(
            "start {} (or fix the link), then run `tandem failover {id} --planned` again; `tandem failover {id}` switches without waiting for replication (unplanned: writes not yet replicated may be missing)",
            secondary.name
        );
        preflight(&client, primary, secondary, &alternative).await?;
        let view = switch_with_fence(
            &client,
            id,
            (primary, secondary),
            "failover",
            &previous,
            "planned failover",
            stay_fenced,
            timeout,
        )
        .await?;
        print_view(&view);
        println!(
            "planned failover done: nothing {} accepted is missing in {} (RPO 0)",
            primary.name, secondary.name
        );
        return Ok(());
    }
    let seen = client.call(primary, Method::GET, "/_tandem/replication").await;
    let exposure = client.call(secondary, Method::GET, "/_tandem/replication").await;
    let view = put_state(&client, secondary, id, "failover", "unplanned failover").await?;
    print_view(&view);
    report_unshipped(primary, secondary, seen, exposure);
    Ok(())
}

/// After an unplanned failover: what the primary had that the secondary has
/// not received, as the secondary knows it from the primary's heartbeats,
/// and, when the primary still answers, its own count of what waits.
fn report_unshipped(primary: &RegionConfig, secondary: &RegionConfig, seen: Result<Value, CallError>, exposure: Result<Value, CallError>) {
    match exposure.as_ref().map(|s| s["behind"].get(&primary.name)) {
        Ok(Some(e)) => println!("{}", crate::exposure::line(&primary.name, &secondary.name, e)),
        Ok(None) => println!(
            "{} has had no heartbeat from {}: what it may be missing is not known",
            secondary.name, primary.name
        ),
        Err(e) => println!("{}'s exposure to {} could not be read ({e})", secondary.name, primary.name),
    }
    match seen {
        Ok(status) => {
            let peer = status["peers"]
                .as_array()
                .and_then(|p| p.iter().find(|p| p["peer"] == secondary.name.as_str()).cloned());
            let backlog = peer.map(|p| p["backlog"]["changes"].as_u64().unwrap_or(0)).unwrap_or(0);
            println!(
                "{} was reachable: {backlog} change(s) were not yet applied in {}; they replicate when the link allows",
                primary.name, secondary.name
            );
        }
        Err(e) => println!(
            "{} is unreachable ({e}); what it accepted ships to {} when it returns",
            primary.name, secondary.name
        ),
    }
}

/// `tandem failback APP [--stay-fenced]`: writes accepted in the secondary
/// during failover reach the primary before it takes writes again.
pub async fn failback(config: &Config, id: &str, stay_fenced: bool, timeout: Duration) -> Result<(), String> {
    let spec = app(config, id)?;
    let client = ControlClient::new(config)?;
    let (primary, secondary) = (region(config, &spec.primary)?, region(config, &spec.secondary)?);
    let view = current_view(&client, id, [primary, secondary]).await;
    let previous = view.as_ref().and_then(|v| v["State"].as_str()).unwrap_or("failover").to_string();
    if previous == "active" {
        println!("{id} is already active: {} takes its writes; nothing changed", primary.name);
        return Ok(());
    }
    let alternative = format!(
        "start {} (or fix the link), then run `tandem failback {id}` again; until then {} keeps taking {id}'s writes",
        primary.name, secondary.name
    );
    preflight(&client, secondary, primary, &alternative).await?;
    let view = switch_with_fence(
        &client,
        id,
        (secondary, primary),
        "active",
        &previous,
        "failback",
        stay_fenced,
        timeout,
    )
    .await?;
    print_view(&view);
    println!(
        "failback done: every write {} took during failover is in {}",
        secondary.name, primary.name
    );
    Ok(())
}

/// `tandem apply [--dry-run] [--forget APP]...`: shows the plan for every
/// region, then (unless dry) makes every region match, retrying steps that
/// wait on replication. The app specs are pushed even when nothing needs
/// creating, so a changed spec (say, `auto_failover`) takes effect. An app
/// the regions enforce but the file no longer names is refused unless
/// `--forget` names it: dropping it from the file must not silently unfence it.
pub async fn apply(config: &Config, dry_run: bool, forget: &[String], label: &str) -> Result<(), String> {
    let client = ControlClient::new(config)?;
    apply_apps(&client, config, dry_run, forget, label).await?;
    publish_sites(&client, config, dry_run).await
}

/// Uploads each `[[sites]]` entry into its app's site bucket (after the
/// buckets exist); with `dry_run`, says what would be uploaded.
async fn publish_sites(client: &ControlClient, config: &Config, dry_run: bool) -> Result<(), String> {
    for site in &config.sites {
        if dry_run {
            let n = crate::site::files(&site.dir)?.len();
            println!(
                "site of {}: would upload {n} files from {} and {}",
                site.app,
                site.dir.display(),
                crate::site::CONFIG_KEY
            );
            continue;
        }
        let n = crate::site::publish(client, config, site).await?;
        println!(
            "site of {}: {n} objects uploaded from {} into {}",
            site.app,
            site.dir.display(),
            site.bucket
        );
    }
    Ok(())
}

async fn apply_apps(client: &ControlClient, config: &Config, dry_run: bool, forget: &[String], label: &str) -> Result<(), String> {
    if config.apps.is_empty() && forget.is_empty() && dry_run {
        println!("no [[apps]] in the config: nothing to apply");
        return Ok(());
    }
    let plan = apply_round(client, config, true, forget).await?;
    let unlisted: std::collections::BTreeSet<String> = plan.iter().flat_map(|r| r.unlisted.iter().cloned()).collect();
    if !unlisted.is_empty() {
        let ids: Vec<&str> = unlisted.iter().map(String::as_str).collect();
        return Err(format!(
            "the regions enforce {} but the config no longer names {}: {} data still exists and {} state is still enforced. \
             Put {} back in the config, or run `tandem apply {}` to stop enforcing {} (nothing is deleted; \
             `tandem destroy APP --delete-data` deletes an app's data)",
            ids.join(", "),
            if ids.len() == 1 { "it" } else { "them" },
            if ids.len() == 1 { "its" } else { "their" },
            if ids.len() == 1 { "its" } else { "their" },
            if ids.len() == 1 { "it" } else { "them" },
            ids.iter().map(|id| format!("--forget {id}")).collect::<Vec<_>>().join(" "),
            if ids.len() == 1 { "it" } else { "them" },
        ));
    }
    let changes: usize = plan.iter().map(|r| r.steps.len()).sum();
    if changes == 0 {
        if !dry_run {
            apply_round(client, config, false, forget).await?;
        }
        println!("nothing to change: every region matches the config (app specs pushed)");
        return Ok(());
    }
    println!("{label}:");
    print_steps(&plan.iter().map(|r| (r.region.clone(), r.steps.clone())).collect::<Vec<_>>());
    if dry_run {
        return Ok(());
    }
    for _ in 0..50 {
        let done = apply_round(client, config, false, forget).await?;
        let waiting = done.iter().any(|r| r.steps.iter().any(|s| s["action"] == "wait"));
        if !waiting {
            println!("applied.");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err("some steps still wait on replication between the regions; is every region up? (`tandem status`)".into())
}

/// What one region answered to an apply round.
struct RegionPlan {
    region: String,
    steps: Vec<Value>,
    /// Apps the region enforces that the config neither names nor forgets.
    unlisted: Vec<String>,
}

async fn apply_round(client: &ControlClient, config: &Config, dry_run: bool, forget: &[String]) -> Result<Vec<RegionPlan>, String> {
    let body = json!({ "apps": config.apps, "dry_run": dry_run, "forget": forget });
    let mut out = Vec::new();
    for r in &config.regions {
        let answer = client
            .call_with(r, Method::POST, "/_tandem/apply", Some(&body))
            .await
            .map_err(|e| format!("{}: {e}", r.name))?;
        out.push(RegionPlan {
            region: r.name.clone(),
            steps: answer["steps"].as_array().cloned().unwrap_or_default(),
            unlisted: answer["unlisted"]
                .as_array()
                .map(|ids| ids.iter().filter_map(|id| id.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
        });
    }
    Ok(out)
}

fn print_steps(plan: &[(String, Vec<Value>)]) {
    for (region, steps) in plan {
        for s in steps {
            println!(
                "  {:<10} {:<8} {:<7} {}",
                region,
                s["app"].as_str().unwrap_or("?"),
                s["action"].as_str().unwrap_or("?"),
                s["detail"].as_str().unwrap_or("")
            );
        }
    }
}

/// `tandem destroy APP --delete-data`: deletes the app's buckets (every
/// version) and tables in every region. The only command that deletes data.
pub async fn destroy(config: &Config, id: &str, delete_data: bool) -> Result<(), String> {
    let spec = app(config, id)?;
    if !delete_data {
        return Err(format!(
            "destroy deletes every object and item of {id} in every region; pass --delete-data to confirm"
        ));
    }
    let client = ControlClient::new(config)?;
    let body = json!({ "app": spec });
    for r in &config.regions {
        let done = client
            .call_with(r, Method::POST, "/_tandem/destroy", Some(&body))
            .await
            .map_err(|e| format!("{}: {e}", r.name))?;
        print_steps(&[(r.name.clone(), done["steps"].as_array().cloned().unwrap_or_default())]);
    }
    println!("{id} destroyed; remove it from the config, or `tandem apply` creates it again (empty)");
    Ok(())
}

/// The apps part of `tandem status`: each app's state as each region sees it.
pub async fn print_apps(config: &Config, client: &ControlClient) {
    if config.apps.is_empty() {
        return;
    }
    println!();
    println!("{:<10} {:<10} {:<9} APP STATE", "REGION", "APP", "STATE");
    for spec in &config.apps {
        for r in &config.regions {
            match client.call(r, Method::GET, &state_path(&spec.id)).await {
                Ok(view) => print_view(&view),
                Err(e) => println!("{:<10} {:<10} {e}", r.name, spec.id),
            }
        }
    }
}
