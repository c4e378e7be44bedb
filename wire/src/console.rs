//! AWS console sign-in URLs (docs/protocol.md §6): the federation requests both sides build from
//! a set of keys, and the partition that decides their hosts. Making the HTTP call is each side's
//! own business; what is asked, where, and how the answer becomes a URL is written once here. A
//! sign-in URL is a bearer secret.

use serde::Deserialize;

/// The commercial partition's federation endpoint.
pub const DEFAULT_SIGNIN: &str = "https://signin.aws.amazon.com/federation";

/// An AWS partition with a console: each has its own sign-in and console hosts, and credentials
/// of one do not sign in to another.
///
/// Where the hosts come from:
/// - `aws`: the AWS Sign-In and Management Console endpoint tables
///   (docs.aws.amazon.com/general/latest/gr/signin-service.html, .../gr/mgmt-console.html).
/// - `aws-us-gov`: the GovCloud (US) user guide names `https://signin.amazonaws-us-gov.com` as
///   its console sign-in (docs.aws.amazon.com/govcloud-us/latest/UserGuide/govcloud-iam.html);
///   the console is `console.amazonaws-us-gov.com`.
/// - `aws-cn`: the China partition's domain is amazonaws.cn (docs.amazonaws.cn, "General
///   Information About Amazon Web Services China"): `signin.amazonaws.cn` and
///   `console.amazonaws.cn`, not the API suffix amazonaws.com.cn.
/// - `aws-eusc` (European Sovereign Cloud): not found in the documentation we could search;
///   taken from the AWS CLI's own `aws console` (aws/aws-cli, awscli/customizations/console.py,
///   which cites the sovereign cloud's endpoints reference at docs.aws.eu): a regional sign-in
///   host `<region>.signin.amazonaws-eusc.eu` and console `<region>.console.amazonaws-eusc.eu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    Aws,
    AwsUsGov,
    AwsCn,
    AwsEusc,
}

impl Partition {
    /// The partition a region belongs to, by its prefix (`us-gov-`, `cn-`, `eusc-`); any other
    /// region is taken as commercial.
    pub fn of_region(region: &str) -> Partition {
        if region.starts_with("us-gov-") {
            Partition::AwsUsGov
        } else if region.starts_with("cn-") {
            Partition::AwsCn
        } else if region.starts_with("eusc-") {
            Partition::AwsEusc
        } else {
            Partition::Aws
        }
    }

    /// The partition an ARN names (`arn:aws-us-gov:iam::...`), if it is one with a console.
    pub fn of_arn(arn: &str) -> Option<Partition> {
        let mut parts = arn.split(':');
        if parts.next() != Some("arn") {
            return None;
        }
        Partition::named(parts.next()?)
    }

    /// `aws`, `aws-us-gov`, `aws-cn`, `aws-eusc`.
    pub fn named(name: &str) -> Option<Partition> {
        match name {
            "aws" => Some(Partition::Aws),
            "aws-us-gov" => Some(Partition::AwsUsGov),
            "aws-cn" => Some(Partition::AwsCn),
            "aws-eusc" => Some(Partition::AwsEusc),
            _ => None,
        }
    }

    /// The partition of credentials: the role ARN's when it names one (it is certain), else the
    /// region's.
    pub fn of(region: &str, role_arn: Option<&str>) -> Partition {
        role_arn
            .and_then(Partition::of_arn)
            .unwrap_or_else(|| Partition::of_region(region))
    }

    pub fn name(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsUsGov => "aws-us-gov",
            Partition::AwsCn => "aws-cn",
            Partition::AwsEusc => "aws-eusc",
        }
    }

    /// A region of the partition, for when the one at hand belongs to another.
    pub fn home_region(self) -> &'static str {
        match self {
            Partition::Aws => "us-east-1",
            Partition::AwsUsGov => "us-gov-west-1",
            Partition::AwsCn => "cn-north-1",
            Partition::AwsEusc => "eusc-de-east-1",
        }
    }

    /// `region` when it belongs to this partition, else the partition's home region (empty
    /// stays empty in the commercial partition, whose console has a global page).
    pub fn region_in(self, region: &str) -> &str {
        if Partition::of_region(region) == self && (!region.is_empty() || self == Partition::Aws) {
            region
        } else {
            self.home_region()
        }
    }

    /// The DNS suffix of the partition's API endpoints (`sts.<region>.<suffix>`).
    pub fn dns_suffix(self) -> &'static str {
        match self {
            Partition::Aws | Partition::AwsUsGov => "amazonaws.com",
            Partition::AwsCn => "amazonaws.com.cn",
            Partition::AwsEusc => "amazonaws.eu",
        }
    }

    /// The federation endpoint (`getSigninToken` and `login`) for credentials of `region`.
    pub fn federation_endpoint(self, region: &str) -> String {
        match self {
            Partition::Aws => DEFAULT_SIGNIN.to_string(),
            Partition::AwsUsGov => "https://signin.amazonaws-us-gov.com/federation".to_string(),
            Partition::AwsCn => "https://signin.amazonaws.cn/federation".to_string(),
            Partition::AwsEusc => format!(
                "https://{}.signin.amazonaws-eusc.eu/federation",
                self.region_in(region)
            ),
        }
    }

    /// The console's domain: every console page of the partition is on it or below it.
    pub fn console_domain(self) -> &'static str {
        match self {
            Partition::Aws => "console.aws.amazon.com",
            Partition::AwsUsGov => "console.amazonaws-us-gov.com",
            Partition::AwsCn => "console.amazonaws.cn",
            Partition::AwsEusc => "console.amazonaws-eusc.eu",
        }
    }

    /// The console page a sign-in lands on when none is asked for.
    pub fn default_destination(self, region: &str) -> String {
        let region = self.region_in(region);
        match self {
            Partition::Aws if region.is_empty() => "https://console.aws.amazon.com/".to_string(),
            Partition::Aws | Partition::AwsEusc => format!(
                "https://{region}.{}/console/home?region={region}",
                self.console_domain()
            ),
            Partition::AwsUsGov | Partition::AwsCn => format!(
                "https://{}/console/home?region={region}",
                self.console_domain()
            ),
        }
    }

    /// Whether `destination` is an https page of this partition's console; the error says why
    /// not.
    pub fn check_destination(self, destination: &str) -> Result<(), String> {
        let domain = self.console_domain();
        let ok = url::Url::parse(destination).ok().is_some_and(|u| {
            u.scheme() == "https"
                && u.username().is_empty()
                && u.password().is_none()
                && u.port().is_none()
                && u.host_str().is_some_and(|h| {
                    h == domain
                        || h.strip_suffix(domain)
                            .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1)
                })
        });
        if ok {
            Ok(())
        } else {
            Err(format!(
                "not a console page of the {} partition (https://{domain}/ or a host under it)",
                self.name()
            ))
        }
    }
}

/// The keys a federation sign-in is made from.
pub struct SessionKeys<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: &'a str,
}

/// The console page a sign-in lands on when none is asked for, in `region`'s partition.
pub fn default_destination(region: &str) -> String {
    Partition::of_region(region).default_destination(region)
}

/// The `getSigninToken` request for `keys`. It carries the keys.
pub fn signin_token_request(
    keys: &SessionKeys<'_>,
    endpoint: &str,
    session_duration: Option<i64>,
) -> String {
    let session = serde_json::json!({
        "sessionId": keys.access_key_id,
        "sessionKey": keys.secret_access_key,
        "sessionToken": keys.session_token,
    })
    .to_string();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("Action", "getSigninToken")
        .append_pair("Session", &session);
    if let Some(secs) = session_duration {
        query.append_pair("SessionDuration", &secs.to_string());
    }
    format!("{endpoint}?{}", query.finish())
}

/// The answer to `getSigninToken`.
#[derive(Deserialize)]
pub struct SigninResponse {
    #[serde(rename = "SigninToken")]
    pub signin_token: String,
}

/// The console URL that signs in with `signin_token` and lands on `destination`.
pub fn login_url(endpoint: &str, issuer: &str, destination: &str, signin_token: &str) -> String {
    let login: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "login")
        .append_pair("Issuer", issuer)
        .append_pair("Destination", destination)
        .append_pair("SigninToken", signin_token)
        .finish();
    format!("{endpoint}?{login}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_request_carries_the_keys_as_one_json_parameter() {
        let keys = SessionKeys {
            access_key_id: "ASIA1",
            secret_access_key: "s/k",
            session_token: "t+t",
        };
        let url = signin_token_request(&keys, DEFAULT_SIGNIN, Some(900));
        let parsed = url::Url::parse(&url).expect("url");
        let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert_eq!(pairs[0], ("Action".into(), "getSigninToken".into()));
        let session: serde_json::Value = serde_json::from_str(&pairs[1].1).expect("json");
        assert_eq!(session["sessionKey"], "s/k");
        assert_eq!(session["sessionToken"], "t+t");
        assert_eq!(pairs[2], ("SessionDuration".into(), "900".into()));
    }

    #[test]
    fn login_urls_land_on_the_regional_console() {
        assert_eq!(
            login_url(
                DEFAULT_SIGNIN,
                "https://p",
                &default_destination("eu-west-1"),
                "T"
            ),
            "https://signin.aws.amazon.com/federation?Action=login&Issuer=https%3A%2F%2Fp&Destination=https%3A%2F%2Feu-west-1.console.aws.amazon.com%2Fconsole%2Fhome%3Fregion%3Deu-west-1&SigninToken=T"
        );
        assert_eq!(default_destination(""), "https://console.aws.amazon.com/");
    }

    /// Every partition's hosts, written out.
    #[test]
    fn each_partition_has_its_own_sign_in_and_console() {
        let cases = [
            (
                "us-east-1",
                "https://signin.aws.amazon.com/federation",
                "https://us-east-1.console.aws.amazon.com/console/home?region=us-east-1",
            ),
            (
                "us-gov-west-1",
                "https://signin.amazonaws-us-gov.com/federation",
                "https://console.amazonaws-us-gov.com/console/home?region=us-gov-west-1",
            ),
            (
                "us-gov-east-1",
                "https://signin.amazonaws-us-gov.com/federation",
                "https://console.amazonaws-us-gov.com/console/home?region=us-gov-east-1",
            ),
            (
                "cn-north-1",
                "https://signin.amazonaws.cn/federation",
                "https://console.amazonaws.cn/console/home?region=cn-north-1",
            ),
            (
                "cn-northwest-1",
                "https://signin.amazonaws.cn/federation",
                "https://console.amazonaws.cn/console/home?region=cn-northwest-1",
            ),
            (
                "eusc-de-east-1",
                "https://eusc-de-east-1.signin.amazonaws-eusc.eu/federation",
                "https://eusc-de-east-1.console.amazonaws-eusc.eu/console/home?region=eusc-de-east-1",
            ),
        ];
        for (region, signin, console) in cases {
            let p = Partition::of_region(region);
            assert_eq!(p.federation_endpoint(region), signin, "{region}");
            assert_eq!(p.default_destination(region), console, "{region}");
            assert_eq!(default_destination(region), console, "{region}");
            assert_eq!(
                login_url(&p.federation_endpoint(region), "i", console, "T"),
                format!(
                    "{signin}?Action=login&Issuer=i&Destination={}&SigninToken=T",
                    url::form_urlencoded::byte_serialize(console.as_bytes()).collect::<String>()
                )
            );
        }
    }

    #[test]
    fn the_role_arn_decides_the_partition_when_the_region_does_not() {
        let gov = "arn:aws-us-gov:iam::123456789012:role/dev";
        assert_eq!(Partition::of("us-east-1", Some(gov)), Partition::AwsUsGov);
        assert_eq!(
            Partition::of("us-east-1", Some("arn:aws-cn:iam::1:role/x")),
            Partition::AwsCn
        );
        assert_eq!(
            Partition::of("us-east-1", Some("arn:aws-eusc:iam::1:role/x")),
            Partition::AwsEusc
        );
        assert_eq!(Partition::of("cn-north-1", None), Partition::AwsCn);
        assert_eq!(
            Partition::of("cn-north-1", Some("not an arn")),
            Partition::AwsCn
        );
        assert_eq!(Partition::of("", None), Partition::Aws);
        // A commercial region does not send a GovCloud sign-in to the commercial console.
        let p = Partition::of("us-east-1", Some(gov));
        assert_eq!(
            p.default_destination("us-east-1"),
            "https://console.amazonaws-us-gov.com/console/home?region=us-gov-west-1"
        );
        assert_eq!(
            Partition::AwsEusc.federation_endpoint(""),
            "https://eusc-de-east-1.signin.amazonaws-eusc.eu/federation"
        );
    }

    #[test]
    fn destinations_stay_within_the_partition() {
        let aws = Partition::Aws;
        assert!(
            aws.check_destination("https://console.aws.amazon.com/s3/")
                .is_ok()
        );
        assert!(
            aws.check_destination("https://us-east-1.console.aws.amazon.com/ec2/home")
                .is_ok()
        );
        for bad in [
            "https://console.amazonaws-us-gov.com/",
            "http://console.aws.amazon.com/",
            "https://evilconsole.aws.amazon.com/",
            "https://console.aws.amazon.com.evil.example/",
            "https://x@console.aws.amazon.com/",
            "https://console.aws.amazon.com:8443/",
            "not a url",
        ] {
            let err = aws.check_destination(bad).expect_err(bad);
            assert!(err.contains("aws partition"), "{err}");
        }
        let gov = Partition::AwsUsGov;
        assert!(
            gov.check_destination(
                "https://console.amazonaws-us-gov.com/ec2/home?region=us-gov-west-1"
            )
            .is_ok()
        );
        assert!(
            gov.check_destination("https://console.aws.amazon.com/")
                .is_err()
        );
        assert!(
            Partition::AwsCn
                .check_destination("https://console.amazonaws.cn/s3/")
                .is_ok()
        );
        assert!(
            Partition::AwsEusc
                .check_destination("https://eusc-de-east-1.console.amazonaws-eusc.eu/")
                .is_ok()
        );
    }
}
