//! The browser side of docs/protocol.md §2: the page that asks the user to authorize the CLI.

/// Everything interpolated here is a number, a fixed word, or a `state` of `[A-Za-z0-9_-]`
/// only (checked by the caller), so no escaping is needed.
pub fn authorize(port: u16, admin: bool, state: Option<&str>, error: Option<&str>) -> String {
    let scope = if admin { "admin" } else { "tenant" };
    let admin_field = if admin { "true" } else { "false" };
    let state = state
        .map(|s| format!("\n  <input type=\"hidden\" name=\"state\" value=\"{s}\">"))
        .unwrap_or_default();
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{e}</p>"))
        .unwrap_or_default();
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Authorize duplo-jit</title>
<style>
  body {{ font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; padding: 0 1rem; color: #1f2328; }}
  h1 {{ font-size: 1.4rem; }}
  label {{ display: block; margin: 1.5rem 0 .3rem; font-weight: 600; }}
  input {{ width: 100%; padding: .5rem; font: inherit; box-sizing: border-box; }}
  .buttons {{ margin-top: 1.5rem; display: flex; gap: .75rem; }}
  button {{ padding: .55rem 1.4rem; font: inherit; border-radius: 6px; border: 1px solid #8c959f; cursor: pointer; }}
  button.primary {{ background: #1f6feb; color: white; border-color: #1f6feb; }}
  .error {{ color: #cf222e; }}
</style>
</head>
<body>
<h1>Authorize command-line access</h1>
<p>The duplo-jit application on your computer wants to access your credentials ({scope} access, local port {port}).</p>
{error}
<form method="post" action="/app/user/verify-token">
  <input type="hidden" name="localPort" value="{port}">
  <input type="hidden" name="isAdmin" value="{admin_field}">{state}
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
<html lang="en"><head><meta charset="utf-8"><title>duplo-jit authorized</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto;">
<h1 id="done">You are signed in</h1>
<p>The command line has its credentials. You can close this window.</p>
</body></html>
"#
    .to_string()
}

pub fn message(title: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto;\"><h1 id=\"message\">{title}</h1></body></html>\n"
    )
}
