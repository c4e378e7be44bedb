//! The loopback HTTP listener the browser login hands its token to (docs/protocol.md §2). Written over
//! std rather than a server crate so every connection is bounded: each gets its own thread, one
//! deadline for reading its request and writing the reply, a cap on head and body sizes, and a
//! cap on connections at once. A client that stalls holds up only itself, never the portal's
//! callback or the login's own timeout.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

/// How long one connection may take to send its request and read the reply.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(10);
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;
/// Connections beyond this are closed at once; each lasts at most `CONNECTION_DEADLINE`.
const MAX_CONNECTIONS: usize = 32;
const POLL: Duration = Duration::from_millis(25);

pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header of that name; None when absent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first query parameter of that name, decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn text(status: u16, body: &str) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.to_string(),
            headers: Vec::new(),
        }
    }
}

pub struct Listener {
    inner: TcpListener,
    port: u16,
}

impl Listener {
    /// Bind 127.0.0.1 only, on `port` or (0) any free one.
    pub fn bind(port: u16) -> Result<Listener> {
        let inner = TcpListener::bind(("127.0.0.1", port))
            .map_err(|e| anyhow!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        let port = inner
            .local_addr()
            .context("login listener has no port")?
            .port();
        Ok(Listener { inner, port })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Answer requests with `handle` until it returns an outcome (after its reply went out) or
    /// `deadline` passes (None). The socket closes when this returns.
    pub fn serve<T, F>(self, deadline: Instant, handle: F) -> Result<Option<T>>
    where
        T: Send + 'static,
        F: Fn(&Request) -> (Reply, Option<T>) + Send + Sync + 'static,
    {
        self.inner
            .set_nonblocking(true)
            .context("login listener failed")?;
        let handle = Arc::new(handle);
        let active = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        loop {
            loop {
                match self.inner.accept() {
                    Ok((stream, _)) => {
                        if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
                            crate::output::debug(|| {
                                "login listener busy; connection dropped".into()
                            });
                            continue;
                        }
                        let (tx, handle, count) = (tx.clone(), handle.clone(), active.clone());
                        active.fetch_add(1, Ordering::SeqCst);
                        let spawned = std::thread::Builder::new().spawn(move || {
                            if let Some(outcome) = connection(stream, &*handle) {
                                let _ = tx.send(outcome);
                            }
                            count.fetch_sub(1, Ordering::SeqCst);
                        });
                        if spawned.is_err() {
                            active.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    // Out of file descriptors, a connection reset before accept: try later.
                    Err(e) => {
                        crate::output::debug(|| format!("login listener: accept failed: {e}"));
                        break;
                    }
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            match rx.recv_timeout(left.min(POLL)) {
                Ok(outcome) => return Ok(Some(outcome)),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(anyhow!("login listener failed"));
                }
            }
        }
    }
}

/// Why a request could not be read: answer with a status, or just hang up.
enum Unread {
    Answer(u16),
    HangUp,
}

fn connection<T>(
    mut stream: TcpStream,
    handle: &dyn Fn(&Request) -> (Reply, Option<T>),
) -> Option<T> {
    let deadline = Instant::now() + CONNECTION_DEADLINE;
    if stream.set_nonblocking(false).is_err() {
        return None;
    }
    let (reply, outcome) = match read_request(&mut stream, deadline) {
        Ok(request) => handle(&request),
        Err(Unread::Answer(status)) => (Reply::text(status, "bad request"), None),
        Err(Unread::HangUp) => return None,
    };
    // The outcome stands even if the browser has gone before reading the reply.
    let _ = write_reply(&mut stream, &reply, deadline);
    outcome
}

fn left(deadline: Instant) -> Result<Duration, Unread> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(Unread::HangUp)
    } else {
        Ok(left)
    }
}

fn read_some(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> Result<usize, Unread> {
    stream
        .set_read_timeout(Some(left(deadline)?))
        .map_err(|_| Unread::HangUp)?;
    match stream.read(buf) {
        Ok(0) | Err(_) => Err(Unread::HangUp),
        Ok(n) => Ok(n),
    }
}

fn read_request(stream: &mut TcpStream, deadline: Instant) -> Result<Request, Unread> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    let (head_len, mut request, content_length) = loop {
        if let Some(parsed) = parse_head(&buf)? {
            break parsed;
        }
        if buf.len() >= MAX_HEAD {
            return Err(Unread::Answer(431));
        }
        let n = read_some(stream, &mut chunk, deadline)?;
        buf.extend_from_slice(&chunk[..n]);
    };
    if content_length > MAX_BODY {
        return Err(Unread::Answer(413));
    }
    let mut body = buf.split_off(head_len.min(buf.len()));
    while body.len() < content_length {
        let n = read_some(stream, &mut chunk, deadline)?;
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(content_length);
    request.body = body;
    Ok(request)
}

/// The request head once it is complete: its length, the request without a body, and the
/// body's length.
fn parse_head(buf: &[u8]) -> Result<Option<(usize, Request, usize)>, Unread> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Unread::Answer(431)),
        Err(_) => return Err(Unread::Answer(400)),
    };
    let target = req.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect();
    let mut lengths = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("Content-Length"));
    let content_length = match (lengths.next(), lengths.next()) {
        (None, _) => 0,
        (Some((_, v)), None) => v.parse::<usize>().map_err(|_| Unread::Answer(400))?,
        (Some(_), Some(_)) => return Err(Unread::Answer(400)),
    };
    if headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("Transfer-Encoding"))
    {
        return Err(Unread::Answer(501));
    }
    let request = Request {
        method: req.method.unwrap_or_default().to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body: Vec::new(),
    };
    Ok(Some((head_len, request, content_length)))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        302 => "Found",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        _ => "",
    }
}

fn write_reply(stream: &mut TcpStream, reply: &Reply, deadline: Instant) -> std::io::Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    stream.set_write_timeout(Some(left.max(Duration::from_millis(1))))?;
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n",
        reply.status,
        reason(reply.status),
        reply.content_type,
        reply.body.len()
    );
    for (k, v) in &reply.headers {
        // Values come from validated URLs; a line break would split the reply, so drop it.
        if !v.contains(['\r', '\n']) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(reply.body.as_bytes())?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> Result<Option<(usize, Request, usize)>, Unread> {
        parse_head(raw.as_bytes())
    }

    #[test]
    fn heads_parse_or_are_refused() {
        let raw = "POST /v2/callbackWithOtp?t=a%20b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
        let (n, req, len) = head(raw).ok().flatten().expect("complete");
        assert_eq!((n, len), (raw.len() - 5, 5));
        assert_eq!(
            (req.method.as_str(), req.path.as_str()),
            ("POST", "/v2/callbackWithOtp")
        );
        assert_eq!(req.param("t").as_deref(), Some("a b"));
        assert_eq!(req.header("host"), Some("x"));
        assert!(matches!(head("GET / HTTP/1.1\r\nHost: x\r\n"), Ok(None)));
        for bad in [
            "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "\x01\x02 / HTTP/1.1\r\n\r\n",
        ] {
            assert!(matches!(head(bad), Err(Unread::Answer(400))), "{bad:?}");
        }
        assert!(matches!(
            head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(Unread::Answer(501))
        ));
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "X: y\r\n".repeat(100));
        assert!(matches!(head(&many), Err(Unread::Answer(431))));
    }
}
