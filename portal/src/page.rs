//! The browser side of docs/protocol.md §2: the page that asks the user to authorize the CLI.
//! Every value put into the page goes through `escape`.

/// What the page needs to send the user back to the CLI.
pub struct Login<'a> {
    pub port: u16,
    pub admin: bool,
    /// The CLI's one-time value, echoed back to it unchanged.
    pub state: Option<&'a str>,
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn authorize(login: &Login, error: Option<&str>) -> String {
    let port = login.port;
    let scope = if login.admin { "admin" } else { "tenant" };
    let admin_field = if login.admin { "true" } else { "false" };
    let state_field = login
        .state
        .map(|s| {
            format!(
                "\n  <input type=\"hidden\" name=\"state\" value=\"{}\">",
                escape(s)
            )
        })
        .unwrap_or_default();
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let mut back = url::form_urlencoded::Serializer::new(String::new());
    back.append_pair("localAppName", "duplo-jit")
        .append_pair("localPort", &port.to_string())
        .append_pair("isAdmin", admin_field);
    if let Some(s) = login.state {
        back.append_pair("state", s);
    }
    let next = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", &format!("/app/user/verify-token?{}", back.finish()))
        .finish();
    let sign_in = escape(&format!("/login?{next}"));
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Authorize duplo-jit</title>
<link rel="stylesheet" href="/static/portal.css">
</head>
<body>
<h1>Authorize command-line access</h1>
<p>The duplo-jit application on your computer wants to access your credentials ({scope} access, local port {port}).</p>
{error}
<p><a id="password-sign-in" href="{sign_in}">Sign in with your password</a>, or use an API token:</p>
<form method="post" action="/app/user/verify-token">
  <input type="hidden" name="localPort" value="{port}">
  <input type="hidden" name="isAdmin" value="{admin_field}">{state_field}
  <label for="token">Your portal API token</label>
  <input id="token" name="token" type="password" autocomplete="current-password" required>
  <div class="buttons">
    <button class="primary" id="authorize" type="submit" name="action" value="authorize">Authorize</button>
    <button id="cancel" type="submit" name="action" value="cancel" formnovalidate>Cancel</button>
  </div>
</form>
</body>
</html>
"#
    )
}

pub fn done() -> String {
    r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>duplo-jit authorized</title><link rel="stylesheet" href="/static/portal.css"></head>
<body>
<h1 id="done">You are signed in</h1>
<p>The command line has its credentials. You can close this window.</p>
</body></html>
"#
    .to_string()
}

pub fn message(title: &str) -> String {
    let title = escape(title);
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><link rel=\"stylesheet\" href=\"/static/portal.css\"></head>\
         <body><h1 id=\"message\">{title}</h1></body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_state_is_echoed_escaped() {
        let page = super::authorize(
            &super::Login {
                port: 1234,
                admin: false,
                state: Some("a\"><script>x</script>"),
            },
            None,
        );
        assert!(!page.contains("<script>x"), "{page}");
        assert!(page.contains("value=\"a&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""));
    }
}
