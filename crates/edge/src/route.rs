//! Where a behaviour sends a request: a single origin, an origin group
//! (primary first unless its breaker is open), or an app's current write
//! region. [`Route::pick`] yields the next origin to try, skipping those
//! already tried in this request.

use std::sync::Arc;

use crate::app::AppRoute;
use crate::origin::Origin;

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
    /// An app's write region; with a site bucket, every path goes inside it.
    App {
        app: Arc<AppRoute>,
        site_bucket: Option<String>,
    },
}

impl Route {
    /// The origin the request would go to with nothing tried yet and every
    /// origin healthy: a request served elsewhere "failed over".
    pub fn preferred(&self) -> String {
        match self {
            Route::Single(t) => t.origin.label.clone(),
            Route::Group { primary, .. } => primary.origin.label.clone(),
            Route::App { app, .. } => app.write_target().origin.label.clone(),
        }
    }

    /// The next origin to try, healthy ones first, none tried twice.
    pub fn pick(&self, tried: &[String], idempotent: bool) -> Option<Target> {
        let order: Vec<&Target> = match self {
            Route::Single(t) => vec![t],
            Route::Group { primary, secondary } => healthy_first(primary, secondary),
            Route::App { app, .. } => {
                let (write, other) = app.targets();
                match idempotent {
                    true => healthy_first(write, other),
                    // A write can only land in the write region; the other is
                    // tried only after a failure that permits it.
                    false => vec![write, other],
                }
            }
        };
        let picked = order.into_iter().find(|t| !tried.contains(&t.origin.label)).cloned()?;
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
}

fn healthy_first<'a>(first: &'a Target, second: &'a Target) -> Vec<&'a Target> {
    match !first.origin.health.is_healthy() && second.origin.health.is_healthy() {
        true => vec![second, first],
        false => vec![first, second],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
