//! Who is asking, and whether their form is theirs: the session extractors (`MaybeSignedIn`,
//! `SignedIn`, `Admin`), the CSRF-checked form extractors (`SignedForm`, `AdminForm`), and the
//! field rules the typed forms read their values with. The checks run in one order everywhere:
//! the form is read, then the session (a browser without one signs in first), then the CSRF
//! token, then the admin flag, so a forged form is refused as forged whoever sends it.

use std::fmt;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::de::{DeserializeOwned, Deserializer, SeqAccess, Visitor};

use super::{PageError, cookies, message, message_for, see_other, unreadable};
use crate::db::Session;
use crate::secret;
use crate::state::{Shared, with_who};

/// How long a web sign-in lasts.
pub const SESSION_SECS: i64 = 12 * 3600;

/// The signed-in session of a request, if any.
pub async fn current(app: &Shared, headers: &HeaderMap) -> Result<Option<Session>, PageError> {
    let Some(value) = cookies::get(app, headers, cookies::SESSION) else {
        return Ok(None);
    };
    app.db
        .session(value, jiff::Timestamp::now().as_second())
        .await
        .map_err(unreadable)
}

/// Where to send a browser that must sign in first.
pub fn sign_in_first(path_and_query: &str) -> PageError {
    let next = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", path_and_query)
        .finish();
    PageError::from(see_other(&format!("/login?{next}")))
}

/// Whether a submitted form token is the expected one (compared as digests, in constant time
/// with respect to where they differ).
pub fn csrf_ok(expected: &str, given: &str) -> bool {
    !expected.is_empty() && secret::digest(given) == secret::digest(expected)
}

pub fn csrf_refused() -> axum::response::Response {
    message(
        StatusCode::FORBIDDEN,
        "This form has expired or did not come from this portal: reload the page and try again",
    )
}

/// The session of the browser asking, or none.
pub struct MaybeSignedIn(pub Option<Session>);

impl FromRequestParts<Shared> for MaybeSignedIn {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Self, PageError> {
        Ok(MaybeSignedIn(current(app, &parts.headers).await?))
    }
}

/// The session of a request to a page that needs one; without one, the browser is sent to
/// sign in and come back to the URL it asked for.
pub struct SignedIn(pub Session);

impl FromRequestParts<Shared> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Self, PageError> {
        match current(app, &parts.headers).await? {
            Some(s) => Ok(SignedIn(s)),
            None => Err(sign_in_first(
                parts.uri.path_and_query().map_or("/", |p| p.as_str()),
            )),
        }
    }
}

/// The session of a request to an admin page: signed in, and an admin.
pub struct Admin(pub Session);

impl FromRequestParts<Shared> for Admin {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Self, PageError> {
        let SignedIn(session) = SignedIn::from_request_parts(parts, app).await?;
        if !session.admin {
            return Err(PageError::from(with_who(
                message(StatusCode::FORBIDDEN, "This page is for portal admins"),
                &session.user,
            )));
        }
        Ok(Admin(session))
    }
}

/// A typed page form: its CSRF field, and the page it is on (where a browser that must sign in
/// first comes back to).
pub trait PageForm: DeserializeOwned + Send {
    fn csrf(&self) -> &str;

    /// The page of the form posted to `path`: by default that same path.
    fn page(path: &str) -> String {
        path.to_string()
    }
}

/// A form posted by a signed-in browser, with its session's CSRF token.
pub struct SignedForm<F>(pub Session, pub F);

impl<F: PageForm> FromRequest<Shared> for SignedForm<F> {
    type Rejection = PageError;

    async fn from_request(request: Request, app: &Shared) -> Result<Self, PageError> {
        let page = F::page(request.uri().path());
        let headers = request.headers().clone();
        let axum_extra::extract::Form(form) =
            axum_extra::extract::Form::<F>::from_request(request, app)
                .await
                .map_err(|r| PageError::from(r.into_response()))?;
        let Some(session) = current(app, &headers).await? else {
            return Err(sign_in_first(&page));
        };
        if !csrf_ok(&session.csrf, form.csrf()) {
            return Err(PageError::from(with_who(csrf_refused(), &session.user)));
        }
        Ok(SignedForm(session, form))
    }
}

/// A form posted by an admin's browser, with its session's CSRF token.
pub struct AdminForm<F>(pub Session, pub F);

impl<F: PageForm> FromRequest<Shared> for AdminForm<F> {
    type Rejection = PageError;

    async fn from_request(request: Request, app: &Shared) -> Result<Self, PageError> {
        let SignedForm(session, form) = SignedForm::<F>::from_request(request, app).await?;
        if !session.admin {
            return Err(PageError::from(message_for(
                &session,
                StatusCode::FORBIDDEN,
                "This page is for portal admins",
            )));
        }
        Ok(AdminForm(session, form))
    }
}

/// Which value of a repeated key a field takes, and whether it is trimmed.
#[derive(Clone, Copy)]
struct Pick {
    first: bool,
    trim: bool,
}

impl<'de> Visitor<'de> for Pick {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a form value")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
        Ok(if self.trim { v.trim() } else { v }.to_string())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<String, A::Error> {
        let mut out: Option<String> = None;
        while let Some(v) = seq.next_element::<String>()? {
            if out.is_none() || !self.first {
                out = Some(v);
            }
        }
        let v = out.unwrap_or_default();
        self.visit_str(&v)
    }
}

/// The first value of a field, trimmed (what the admin forms read).
pub fn first_trimmed<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(Pick {
        first: true,
        trim: true,
    })
}

/// The first value of a field, as sent.
pub fn first<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(Pick {
        first: true,
        trim: false,
    })
}

/// The last value of a field, as sent.
pub fn last<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(Pick {
        first: false,
        trim: false,
    })
}

/// The last value of a field, as sent, when the field was sent at all (with `default`).
pub fn maybe_last<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    last(d).map(Some)
}

/// Whether a checkbox was sent at all, whatever its value.
pub fn ticked<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    first(d).map(|_| true)
}

/// Every value of a repeated field, trimmed, without blanks or repeats.
pub fn all_trimmed<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let values = <Vec<String> as serde::Deserialize>::deserialize(d)?;
    Ok(distinct(values.iter().map(String::as_str)))
}

/// `values`, trimmed, without blanks or repeats, in order.
pub fn distinct<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let v = v.trim();
        if !v.is_empty() && !out.iter().any(|o| o == v) {
            out.push(v.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Form {
        #[serde(default, deserialize_with = "first_trimmed")]
        name: String,
        #[serde(default, deserialize_with = "last")]
        lifetime: String,
        #[serde(default, deserialize_with = "ticked")]
        admin: bool,
        #[serde(default, deserialize_with = "all_trimmed")]
        tenant: Vec<String>,
    }

    fn read(query: &str) -> Form {
        let uri: axum::http::Uri = format!("/?{query}").parse().expect("uri");
        axum_extra::extract::Query::<Form>::try_from_uri(&uri)
            .expect("form")
            .0
    }

    #[test]
    fn repeated_keys_follow_each_fields_rule() {
        let f = read(
            "name=+bob+&name=eve&lifetime=1&lifetime=2&admin=on&admin=on&tenant=a&tenant=+b&tenant=a&tenant=",
        );
        assert_eq!(f.name, "bob");
        assert_eq!(f.lifetime, "2");
        assert!(f.admin);
        assert_eq!(f.tenant, ["a", "b"]);
        let f = read("tenant=x");
        assert_eq!((f.name.as_str(), f.admin), ("", false));
        assert_eq!(f.tenant, ["x"]);
    }
}
