//! The portal's Prometheus metrics, through the official Rust client (`prometheus-client`): one
//! process-wide registry that any layer records into, and its OpenMetrics text for the
//! `--metrics-listen` listener (never the public one). Every label takes a value from a short
//! fixed list below, so no user name, token or address can make a new series; every series is
//! there from the start, at 0, so a rate works before the first event.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// The exposition's media type (OpenMetrics 1.0 text).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// An enum whose variants are a label's only values.
macro_rules! label_values {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl EncodeLabelValue for $name {
            fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
                std::fmt::Write::write_str(encoder, self.as_str())
            }
        }
    };
}

label_values!(
    /// What a vend was for.
    VendKind {
        Tenant => "tenant",
        Admin => "admin",
        DuploOps => "duplo_ops",
        K8sTenant => "k8s_tenant",
        K8sPlan => "k8s_plan",
    }
);

label_values!(
    /// How a vend ended: keys out, refused by the portal's rules, or failed (STS or the portal).
    VendOutcome {
        Ok => "ok",
        Refused => "refused",
        Failed => "failed",
    }
);

label_values!(
    /// How a browser signs in.
    Method {
        Password => "password",
        Oidc => "oidc",
    }
);

label_values!(
    /// How a sign-in (or a second-factor check) ended.
    Outcome {
        Ok => "ok",
        Wrong => "wrong",
        Throttled => "throttled",
        Error => "error",
    }
);

label_values!(
    /// Which limit refused a request (`web::throttle`).
    Limit {
        Own => "sign_in_own",
        User => "sign_in_user",
        Address => "sign_in_address",
    }
);

label_values!(
    /// Why the listener let a connection go to make room.
    Shed {
        /// The longest-idle open connection was closed for a new one.
        LongestIdle => "longest_idle",
        /// Every open connection was busy: the new one was closed at once.
        AllBusy => "all_busy",
    }
);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VendLabels {
    kind: VendKind,
    outcome: VendOutcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignInLabels {
    method: Method,
    outcome: Outcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: Outcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabel {
    limit: Limit,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ShedLabel {
    reason: Shed,
}

struct Metrics {
    registry: Registry,
    vends: Family<VendLabels, Counter>,
    sts_latency: Histogram,
    sign_ins: Family<SignInLabels, Counter>,
    second_factor: Family<OutcomeLabel, Counter>,
    throttled: Family<LimitLabel, Counter>,
    open_connections: Gauge,
    shed: Family<ShedLabel, Counter>,
    db_errors: Counter,
    db_statements: Histogram,
    notification_backlog: Gauge,
}

/// STS answers in tens of milliseconds nearby and in seconds when it struggles; the SDK gives
/// up after 15.
const STS_BUCKETS: [f64; 11] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0];

/// A statement takes tens of microseconds on SQLite and a millisecond or so on a nearby
/// PostgreSQL; sqlx calls one slow at a second.
const DB_BUCKETS: [f64; 10] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0,
];

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("jit_portal");
    let vends = Family::<VendLabels, Counter>::default();
    for &kind in VendKind::ALL {
        for &outcome in VendOutcome::ALL {
            drop(vends.get_or_create(&VendLabels { kind, outcome }));
        }
    }
    registry.register(
        "vends",
        "Credential vends by scope kind and outcome",
        vends.clone(),
    );
    let sts_latency = Histogram::new(STS_BUCKETS);
    registry.register_with_unit(
        "sts_assume_role_duration",
        "How long STS AssumeRole calls took, failed ones included",
        Unit::Seconds,
        sts_latency.clone(),
    );
    let sign_ins = Family::<SignInLabels, Counter>::default();
    for &method in Method::ALL {
        for &outcome in Outcome::ALL {
            drop(sign_ins.get_or_create(&SignInLabels { method, outcome }));
        }
    }
    registry.register(
        "sign_ins",
        "Web sign-ins by method and outcome",
        sign_ins.clone(),
    );
    let second_factor = Family::<OutcomeLabel, Counter>::default();
    for &outcome in Outcome::ALL {
        drop(second_factor.get_or_create(&OutcomeLabel { outcome }));
    }
    registry.register(
        "second_factor_checks",
        "Second-factor checks by outcome (none until second factors exist)",
        second_factor.clone(),
    );
    let throttled = Family::<LimitLabel, Counter>::default();
    for &limit in Limit::ALL {
        drop(throttled.get_or_create(&LimitLabel { limit }));
    }
    registry.register(
        "throttled_requests",
        "Requests refused by a rate limit, by limit",
        throttled.clone(),
    );
    let open_connections = Gauge::default();
    registry.register(
        "open_connections",
        "Connections open on the public listener",
        open_connections.clone(),
    );
    let shed = Family::<ShedLabel, Counter>::default();
    for &reason in Shed::ALL {
        drop(shed.get_or_create(&ShedLabel { reason }));
    }
    registry.register(
        "shed_connections",
        "Connections the public listener closed to stay under its connection limit",
        shed.clone(),
    );
    let db_errors = Counter::default();
    registry.register(
        "database_errors",
        "Database errors that failed a request or a background task",
        db_errors.clone(),
    );
    let db_statements = Histogram::new(DB_BUCKETS);
    registry.register_with_unit(
        "database_statement_duration",
        "How long each database statement took (its count is the statements run)",
        Unit::Seconds,
        db_statements.clone(),
    );
    let notification_backlog = Gauge::default();
    registry.register(
        "notification_backlog",
        "Email and chat notifications waiting to be sent",
        notification_backlog.clone(),
    );
    Metrics {
        registry,
        vends,
        sts_latency,
        sign_ins,
        second_factor,
        throttled,
        open_connections,
        shed,
        db_errors,
        db_statements,
        notification_backlog,
    }
});

/// One vend of `kind` ended with `outcome`.
pub fn vend(kind: VendKind, outcome: VendOutcome) {
    METRICS
        .vends
        .get_or_create(&VendLabels { kind, outcome })
        .inc();
}

/// One AssumeRole call took `took`.
pub fn sts_call(took: Duration) {
    METRICS.sts_latency.observe(took.as_secs_f64());
}

/// A sign-in under way: it counts as `error` unless an outcome is given before it is dropped
/// (a `?` that leaves the handler is the portal's failure; so, rarely, is a request its client
/// dropped before the answer).
pub struct SignIn {
    method: Method,
    outcome: Outcome,
}

impl SignIn {
    pub fn begin(method: Method) -> SignIn {
        SignIn {
            method,
            outcome: Outcome::Error,
        }
    }

    pub fn ok(&mut self) {
        self.outcome = Outcome::Ok;
    }

    pub fn wrong(&mut self) {
        self.outcome = Outcome::Wrong;
    }

    /// Refused by `limit`, which counts as a throttled request too.
    pub fn throttled(&mut self, limit: Limit) {
        self.outcome = Outcome::Throttled;
        throttled(limit);
    }
}

impl Drop for SignIn {
    fn drop(&mut self) {
        METRICS
            .sign_ins
            .get_or_create(&SignInLabels {
                method: self.method,
                outcome: self.outcome,
            })
            .inc();
    }
}

/// One second-factor check (a code at sign-in or at enrolment) ended with `outcome`.
pub fn second_factor(outcome: Outcome) {
    METRICS
        .second_factor
        .get_or_create(&OutcomeLabel { outcome })
        .inc();
}

/// A request refused by `limit`.
pub fn throttled(limit: Limit) {
    METRICS.throttled.get_or_create(&LimitLabel { limit }).inc();
}

/// The public listener holds `n` connections now.
pub fn open_connections(n: usize) {
    METRICS
        .open_connections
        .set(i64::try_from(n).unwrap_or(i64::MAX));
}

/// The public listener let a connection go.
pub fn shed(reason: Shed) {
    METRICS.shed.get_or_create(&ShedLabel { reason }).inc();
}

/// A failure reached the log: a database error when one is in its chain.
pub fn failure(e: &anyhow::Error) {
    if is_database_error(e) {
        METRICS.db_errors.inc();
    }
}

fn is_database_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<sqlx::Error>())
}

/// One database statement ran for `secs` (fed by the log's listener on sqlx's statement events).
pub fn db_statement(secs: f64) {
    METRICS.db_statements.observe(secs);
}

/// Notifications waiting to go out.
pub fn notification_backlog(n: usize) {
    METRICS
        .notification_backlog
        .set(i64::try_from(n).unwrap_or(i64::MAX));
}

/// Every metric in the OpenMetrics text format.
pub fn encode() -> String {
    let mut out = String::new();
    // Writing into a String cannot fail, and every label value is one of ours.
    let _ = prometheus_client::encoding::text::encode(&mut out, &METRICS.registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_there_before_any_traffic_and_counts_once_recorded() {
        let text = encode();
        for name in [
            "jit_portal_vends_total{kind=\"k8s_plan\",outcome=\"failed\"} 0",
            "jit_portal_second_factor_checks_total{outcome=\"ok\"} 0",
            "jit_portal_notification_backlog 0",
            "# TYPE jit_portal_sts_assume_role_duration_seconds histogram",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
        {
            let mut s = SignIn::begin(Method::Oidc);
            s.throttled(Limit::Address);
        }
        let text = encode();
        assert!(
            text.contains("jit_portal_sign_ins_total{method=\"oidc\",outcome=\"throttled\"} 1")
        );
        assert!(text.contains("jit_portal_throttled_requests_total{limit=\"sign_in_address\"} 1"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn only_database_errors_count_as_database_errors() {
        assert!(!is_database_error(&anyhow::anyhow!("no randomness")));
        assert!(is_database_error(
            &anyhow::Error::new(sqlx::Error::PoolTimedOut).context("portal state unreadable")
        ));
    }
}
