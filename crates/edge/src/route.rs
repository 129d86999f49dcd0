//! Where a behaviour sends a request: a single origin, an origin group
//! (primary first unless its breaker is open), or an app's current write
//! region (with `reads = "nearest"`, GET and HEAD go to the region with the
//! shortest probe round trip). [`Route::pick`] yields the next origin to
//! try, skipping those already tried in this request.

use std::sync::Arc;

use http::Method;

use crate::app::AppRoute;
use crate::origin::Origin;
use crate::retry;

/// How the path changes on the way to one origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathRule {
    Keep,
    /// A bucket put in front (`/index.html` -> `/site/index.html`).
    Prefix(String),
    /// The first path segment renamed when it is one of the app's bucket
    /// names (`from`, `to`): the app's bucket in this origin's region.
    Rename(Arc<Vec<(String, String)>>),
    /// The whole path put inside an app bucket (named as in the primary),
    /// then renamed as [`PathRule::Rename`]: a site bucket that follows the app.
    InBucket(String, Arc<Vec<(String, String)>>),
}

impl PathRule {
    /// The same rule with every path put inside `bucket` (named as in the
    /// app's primary); a rule that already names a bucket keeps it.
    pub fn inside(self, bucket: &str) -> PathRule {
        match self {
            PathRule::Keep => PathRule::Prefix(bucket.to_string()),
            PathRule::Rename(names) => PathRule::InBucket(bucket.to_string(), names),
            named @ (PathRule::Prefix(_) | PathRule::InBucket(..)) => named,
        }
    }

    /// The origin's path for a viewer path (starting with `/`).
    pub fn apply(&self, path: &str) -> String {
        match self {
            PathRule::Keep => path.to_string(),
            PathRule::Prefix(bucket) => format!("/{bucket}{path}"),
            PathRule::InBucket(bucket, names) => PathRule::Rename(names.clone()).apply(&format!("/{bucket}{path}")),
            PathRule::Rename(names) => {
                let rest = path.strip_prefix('/').unwrap_or(path);
                let (first, tail) = rest.split_once('/').map_or((rest, ""), |(f, t)| (f, t));
                match names.iter().find(|(from, _)| from == first) {
                    Some((_, to)) if tail.is_empty() && !rest.contains('/') => format!("/{to}"),
                    Some((_, to)) => format!("/{to}/{tail}"),
                    None => path.to_string(),
                }
            }
        }
    }
}

#[derive(Clone)]
pub struct Target {
    pub origin: Arc<Origin>,
    pub path: PathRule,
}

pub enum Route {
    Single(Target),
    Group {
        primary: Target,
        secondary: Target,
    },
    /// An app's write region; with a site bucket, every path goes inside
    /// it; with `nearest_reads`, GET and HEAD go to the nearest region.
    App {
        app: Arc<AppRoute>,
        site_bucket: Option<String>,
        nearest_reads: bool,
    },
}

impl Route {
    /// The origin the request would go to with nothing tried yet and every
    /// origin healthy: a request served elsewhere "failed over".
    pub fn preferred(&self, method: &Method) -> String {
        self.ranked(method, false)
            .first()
            .map(|t| t.origin.label.clone())
            .unwrap_or_default()
    }

    /// The next origin to try, healthy ones first, none tried twice.
    pub fn pick(&self, tried: &[String], method: &Method) -> Option<Target> {
        let picked = self
            .ranked(method, true)
            .into_iter()
            .find(|t| !tried.contains(&t.origin.label))
            .cloned()?;
        Some(match self {
            Route::App {
                site_bucket: Some(bucket), ..
            } => Target {
                path: picked.path.inside(bucket),
                ..picked
            },
            _ => picked,
        })
    }

    /// Every origin in the order they are tried (`by_health`: an open
    /// breaker moves an origin last).
    fn ranked(&self, method: &Method, by_health: bool) -> Vec<&Target> {
        match self {
            Route::Single(t) => vec![t],
            Route::Group { primary, secondary } => first_healthy(primary, secondary, by_health),
            Route::App { app, nearest_reads, .. } => {
                let (write, other) = app.targets();
                match (
                    *nearest_reads && matches!(*method, Method::GET | Method::HEAD),
                    retry::idempotent(method),
                ) {
                    (true, _) if faster(other, write) => first_healthy(other, write, by_health),
                    (_, true) => first_healthy(write, other, by_health),
                    // A write can only land in the write region; the other is
                    // tried only after a failure that permits it.
                    (_, false) => vec![write, other],
                }
            }
        }
    }
}

/// Whether `a`'s probe round trip is clearly (a fifth) shorter than `b`'s,
/// so two near-equal regions do not swap back and forth.
fn faster(a: &Target, b: &Target) -> bool {
    match (a.origin.health.rtt(), b.origin.health.rtt()) {
        (Some(ra), Some(rb)) => ra * 5 < rb * 4,
        _ => false,
    }
}

fn first_healthy<'a>(first: &'a Target, second: &'a Target, by_health: bool) -> Vec<&'a Target> {
    match by_health && !first.origin.health.is_healthy() && second.origin.health.is_healthy() {
        true => vec![second, first],
        false => vec![first, second],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::AppInfo;
    use crate::health::Health;
    use std::time::Duration;

    fn origin(region: &str, port: u16) -> Arc<Origin> {
        Arc::new(Origin {
            label: region.into(),
            region: Some(region.into()),
            base: format!("http://127.0.0.1:{port}"),
            authority: format!("127.0.0.1:{port}").parse().unwrap(),
            signing_region: "us-east-1".into(),
            health: Health::new(region, Default::default()),
        })
    }

    fn app_route(nearest_reads: bool) -> (Route, Arc<Origin>, Arc<Origin>) {
        let (east, tokyo) = (origin("us-east", 1), origin("ap-tokyo", 2));
        let info = AppInfo {
            id: "photos".into(),
            primary: "us-east".into(),
            secondary: "ap-tokyo".into(),
            buckets: vec![],
        };
        let app = Arc::new(AppRoute::new(
            &info,
            east.clone(),
            tokyo.clone(),
            crate::origin::client(Duration::from_secs(1)),
        ));
        let route = Route::App {
            app,
            site_bucket: None,
            nearest_reads,
        };
        (route, east, tokyo)
    }

    fn first(route: &Route, method: Method) -> String {
        route.pick(&[], &method).unwrap().origin.label.clone()
    }

    #[test]
    fn nearest_reads_go_to_the_clearly_faster_healthy_region_and_writes_stay() {
        let (route, east, tokyo) = app_route(true);
        assert_eq!(first(&route, Method::GET), "us-east", "no round trips yet: the write region");
        east.health.record_rtt(Duration::from_millis(50));
        tokyo.health.record_rtt(Duration::from_millis(45));
        assert_eq!(first(&route, Method::GET), "us-east", "not a fifth faster: no swap");
        tokyo.health.record_rtt(Duration::from_millis(1));
        tokyo.health.record_rtt(Duration::from_millis(1));
        assert_eq!(first(&route, Method::GET), "ap-tokyo");
        assert_eq!(first(&route, Method::HEAD), "ap-tokyo");
        assert_eq!(route.preferred(&Method::GET), "ap-tokyo", "served there, it is no failover");
        assert_eq!(first(&route, Method::PUT), "us-east", "writes go to the write region");
        assert_eq!(first(&route, Method::POST), "us-east");
        tokyo.health.failed("probe");
        assert_eq!(first(&route, Method::GET), "us-east", "an open breaker goes last");
        let (plain, east, tokyo) = app_route(false);
        east.health.record_rtt(Duration::from_millis(50));
        tokyo.health.record_rtt(Duration::from_millis(1));
        assert_eq!(
            first(&plain, Method::GET),
            "us-east",
            "without `nearest`, reads follow the write region"
        );
    }

    #[test]
    fn paths_get_the_bucket_prefix_or_the_regions_bucket_name() {
        assert_eq!(PathRule::Prefix("site".into()).apply("/a/b.html"), "/site/a/b.html");
        let rename = PathRule::Rename(Arc::new(vec![("photos-east".into(), "photos-tokyo".into())]));
        assert_eq!(rename.apply("/photos-east/k/x.jpg"), "/photos-tokyo/k/x.jpg");
        assert_eq!(rename.apply("/photos-east"), "/photos-tokyo");
        assert_eq!(rename.apply("/photos-east/"), "/photos-tokyo/");
        assert_eq!(rename.apply("/photos-eastern/k"), "/photos-eastern/k");
        assert_eq!(rename.apply("/"), "/");
        let names = Arc::new(vec![("site-east".into(), "site-tokyo".into())]);
        assert_eq!(
            PathRule::InBucket("site-east".into(), names).apply("/assets/a.js"),
            "/site-tokyo/assets/a.js"
        );
    }
}
