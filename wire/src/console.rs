//! AWS console sign-in URLs (docs/protocol.md §6): the federation requests both sides build from
//! a set of keys. Making the HTTP call is each side's own business; what is asked and how the
//! answer becomes a URL is written once here. A sign-in URL is a bearer secret.

use serde::Deserialize;

/// The commercial partition's federation endpoint.
pub const DEFAULT_SIGNIN: &str = "https://signin.aws.amazon.com/federation";

/// The keys a federation sign-in is made from.
pub struct SessionKeys<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: &'a str,
}

/// The console page a sign-in lands on when none is asked for.
pub fn default_destination(region: &str) -> String {
    if region.is_empty() {
        "https://console.aws.amazon.com/".to_string()
    } else {
        format!("https://{region}.console.aws.amazon.com/console/home?region={region}")
    }
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
}
