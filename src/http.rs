//! The blocking HTTP/1.1 core the CLI's two loopback servers share: the browser login's listener
//! (`listener`, docs/protocol.md §2) and `jit exec --server`'s credentials endpoint
//! (`credserver`, §10). Each serves one request per connection and closes.
//!
//! Hand-written over std (with httparse for the head) because every connection must be bounded
//! in size and time: one deadline for the whole request, a cap on head bytes, header count and
//! body bytes, a write deadline for the reply, and a cap on connections at once, each served on
//! its own thread so a stalled client holds up only itself. The maintained server crates do not
//! give all of that: hyper (and axum, warp, actix over it) need an async runtime, which nothing
//! else in the CLI starts; tiny_http 0.12 sets no socket deadline, caps neither header lines nor
//! their count, and starts a thread for every waiting connection without a limit. This module
//! stays off the `jit aws` cache-hit path: only `login` and `exec --server` reach it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How much a request may be; the time it gets is the caller's deadline.
pub struct Limits {
    /// A head not complete within this many bytes is refused with 431.
    pub max_head: usize,
    /// More header lines than this are refused with 431.
    pub max_headers: usize,
    /// A declared body larger than this is refused unread with 413. None: the body is neither
    /// framed nor read, for a server that answers on the head alone.
    pub max_body: Option<usize>,
}

pub struct Request {
    pub method: String,
    /// The request target up to its `?`.
    pub path: String,
    /// What follows the `?`, still encoded; empty when there is none.
    pub query: String,
    headers: Vec<Header>,
    pub body: Vec<u8>,
}

struct Header {
    name: String,
    /// The value as sent, for comparisons that must see every byte.
    raw: Vec<u8>,
    /// The value as text, trimmed: what policy checks read.
    text: String,
}

impl Request {
    /// The first header of that name; None when absent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.find(name).map(|h| h.text.as_str())
    }

    /// The first header of that name as its bytes, untrimmed; None when absent.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.find(name).map(|h| h.raw.as_slice())
    }

    fn find(&self, name: &str) -> Option<&Header> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
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
    /// Written after Content-Type and Content-Length, in this order.
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

/// Why a request could not be read: answer with a status, or just hang up.
#[derive(Debug, PartialEq, Eq)]
pub enum Unread {
    Answer(u16),
    /// Closed, reset or too slow: nobody left to answer.
    HangUp,
}

/// Read one request within `limits` and `deadline`.
pub fn read_request(
    stream: &mut TcpStream,
    limits: &Limits,
    deadline: Instant,
) -> Result<Request, Unread> {
    let mut buf = vec![0u8; limits.max_head];
    let mut filled = 0;
    let (head_len, mut request) = loop {
        filled += read_some(stream, &mut buf[filled..], deadline)?;
        if let Some(parsed) = parse_head(&buf[..filled], limits.max_headers)? {
            break parsed;
        }
        if filled == limits.max_head {
            return Err(Unread::Answer(431));
        }
    };
    let Some(max_body) = limits.max_body else {
        return Ok(request);
    };
    let length = body_length(&request)?;
    if length > max_body {
        return Err(Unread::Answer(413));
    }
    buf.truncate(filled);
    let mut body = buf.split_off(head_len);
    let mut chunk = [0u8; 4096];
    while body.len() < length {
        let n = read_some(stream, &mut chunk, deadline)?;
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    request.body = body;
    Ok(request)
}

fn read_some(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> Result<usize, Unread> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(Unread::HangUp);
    }
    stream
        .set_read_timeout(Some(left))
        .map_err(|_| Unread::HangUp)?;
    match stream.read(buf) {
        Ok(0) | Err(_) => Err(Unread::HangUp),
        Ok(n) => Ok(n),
    }
}

/// The request head once it is complete: its length and the request without a body.
fn parse_head(buf: &[u8], max_headers: usize) -> Result<Option<(usize, Request)>, Unread> {
    let mut headers = vec![httparse::EMPTY_HEADER; max_headers];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Unread::Answer(431)),
        Err(_) => return Err(Unread::Answer(400)),
    };
    let target = req.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers = req
        .headers
        .iter()
        .map(|h| Header {
            name: h.name.to_string(),
            raw: h.value.to_vec(),
            text: String::from_utf8_lossy(h.value).trim().to_string(),
        })
        .collect();
    let request = Request {
        method: req.method.unwrap_or_default().to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body: Vec::new(),
    };
    Ok(Some((head_len, request)))
}

/// The declared body length. Only Content-Length frames a body here: two of them disagree
/// about where the next request starts, and chunked bodies are not taken at all.
fn body_length(request: &Request) -> Result<usize, Unread> {
    let mut lengths = request
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("Content-Length"));
    let length = match (lengths.next(), lengths.next()) {
        (None, _) => 0,
        (Some(h), None) => h.text.parse::<usize>().map_err(|_| Unread::Answer(400))?,
        (Some(_), Some(_)) => return Err(Unread::Answer(400)),
    };
    if request.header("Transfer-Encoding").is_some() {
        return Err(Unread::Answer(501));
    }
    Ok(length)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// The reply as it goes on the wire.
pub fn render(reply: &Reply) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
        reply.status,
        reason(reply.status),
        reply.content_type,
        reply.body.len()
    );
    for (k, v) in &reply.headers {
        // A line break would split the reply into one the caller did not write: drop it.
        if !v.contains(['\r', '\n']) {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    out.push_str("\r\n");
    out.push_str(&reply.body);
    out.into_bytes()
}

/// Send `reply`, giving the client `timeout` (at least a millisecond) to take it.
pub fn write_reply(
    stream: &mut TcpStream,
    reply: &Reply,
    timeout: Duration,
) -> std::io::Result<()> {
    stream.set_write_timeout(Some(timeout.max(Duration::from_millis(1))))?;
    stream.write_all(&render(reply))?;
    stream.flush()
}

/// End a connection whose request was refused before it was all read. Closing with unread
/// input sends a reset that can destroy the reply in flight: take (a bounded amount of) what
/// the client is still sending first.
pub fn close_unread(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let _ = std::io::copy(&mut stream.take(1 << 20), &mut std::io::sink());
}

/// The connections being served, each on a thread of its own, at most `max` at once.
pub struct Connections {
    active: Arc<AtomicUsize>,
    max: usize,
}

/// Frees a connection's place when its thread ends, however it ends.
struct Place(Arc<AtomicUsize>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Connections {
    pub fn new(max: usize) -> Connections {
        Connections {
            active: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// Run `serve` on a new thread. False, with `serve` dropped unrun (closing the connection
    /// it owns), when `max` connections are already being served; a thread that cannot start
    /// drops it too.
    pub fn spawn(&self, serve: impl FnOnce() + Send + 'static) -> bool {
        if self.active.fetch_add(1, Ordering::AcqRel) >= self.max {
            self.active.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        let place = Place(self.active.clone());
        let _ = std::thread::Builder::new().spawn(move || {
            let _place = place;
            serve();
        });
        true
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::net::TcpListener;

    const LIMITS: Limits = Limits {
        max_head: 1024,
        max_headers: 8,
        max_body: Some(100),
    };

    fn head(raw: &str) -> Result<Option<(usize, Request, usize)>, Unread> {
        match parse_head(raw.as_bytes(), 64)? {
            None => Ok(None),
            Some((n, req)) => {
                let len = body_length(&req)?;
                Ok(Some((n, req, len)))
            }
        }
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

    /// A connected pair: what the client sends, the server reads.
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        (client, server)
    }

    /// What `read_request` makes of `sent` (the client then stays, silent).
    pub(crate) fn read(sent: &[u8], limits: &Limits, within: Duration) -> Result<Request, Unread> {
        let (mut client, mut server) = pair();
        client.write_all(sent).expect("send");
        read_request(&mut server, limits, Instant::now() + within)
    }

    #[test]
    fn requests_are_read_within_their_bounds() {
        let got = read(
            b"POST /a?b=c HTTP/1.1\r\nAuthorization:  t \r\nContent-Length: 5\r\n\r\nhello",
            &LIMITS,
            Duration::from_secs(5),
        )
        .expect("read");
        assert_eq!((got.method.as_str(), got.path.as_str()), ("POST", "/a"));
        assert_eq!(
            (got.query.as_str(), got.body.as_slice()),
            ("b=c", &b"hello"[..])
        );
        assert_eq!(got.header("authorization"), Some("t"));
        assert_eq!(got.header_bytes("Authorization"), Some(&b"t"[..]));

        // A head that fills the cap without ending; one that ends just within it.
        let pad = |n: usize| format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(n));
        let fits = pad(LIMITS.max_head - 23);
        assert_eq!(fits.len(), LIMITS.max_head);
        assert!(read(fits.as_bytes(), &LIMITS, Duration::from_secs(5)).is_ok());
        let over = pad(LIMITS.max_head - 22);
        let too_big = read(over.as_bytes(), &LIMITS, Duration::from_secs(5));
        assert_eq!(too_big.err(), Some(Unread::Answer(431)));

        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "X: y\r\n".repeat(9));
        let too_many = read(many.as_bytes(), &LIMITS, Duration::from_secs(5));
        assert_eq!(too_many.err(), Some(Unread::Answer(431)));

        // A body over the cap is refused before any of it is waited for.
        let large = b"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n";
        let refused = read(large, &LIMITS, Duration::from_secs(5));
        assert_eq!(refused.err(), Some(Unread::Answer(413)));
        let exact = format!(
            "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n{}",
            "b".repeat(100)
        );
        let got = read(exact.as_bytes(), &LIMITS, Duration::from_secs(5)).expect("read");
        assert_eq!(got.body.len(), 100);

        // Without a body limit, framing is not looked at.
        let head_only = Limits {
            max_body: None,
            ..LIMITS
        };
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let got = read(chunked, &head_only, Duration::from_secs(5)).expect("read");
        assert!(got.body.is_empty());
    }

    #[test]
    fn a_stalled_client_is_dropped_at_the_deadline() {
        for sent in [
            &b"GET / HTTP/1.1\r\nHost: slow"[..],
            b"POST / HTTP/1.1\r\nContent-Length: 50\r\n\r\nabc",
        ] {
            let started = Instant::now();
            let got = read(sent, &LIMITS, Duration::from_millis(300));
            assert_eq!(got.err(), Some(Unread::HangUp));
            let took = started.elapsed();
            assert!(
                took >= Duration::from_millis(300) && took < Duration::from_secs(3),
                "{took:?}"
            );
        }
    }

    #[test]
    fn replies_go_out_in_order_without_split_lines() {
        let mut reply = Reply::text(302, "");
        reply.headers.push(("Location", "https://a/".into()));
        reply.headers.push(("X-Bad", "a\r\nSet-Cookie: x".into()));
        let (mut client, mut server) = pair();
        write_reply(&mut server, &reply, Duration::from_secs(5)).expect("write");
        drop(server);
        let mut got = String::new();
        client.read_to_string(&mut got).expect("read");
        assert_eq!(
            got,
            "HTTP/1.1 302 Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 0\r\nLocation: https://a/\r\n\r\n"
        );
        assert!(
            String::from_utf8(render(&Reply::text(599, "x")))
                .expect("utf8")
                .starts_with("HTTP/1.1 599 \r\n")
        );
    }

    #[test]
    fn connections_beyond_the_cap_are_refused() {
        let connections = Connections::new(2);
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = Arc::new(std::sync::Mutex::new(wait));
        for _ in 0..2 {
            let wait = wait.clone();
            assert!(connections.spawn(move || {
                let _ = wait.lock().map(|w| w.recv());
            }));
        }
        assert!(!connections.spawn(|| {}), "a third while two are served");
        drop(release);
        let started = Instant::now();
        while connections.active.load(Ordering::Acquire) > 0 {
            assert!(started.elapsed() < Duration::from_secs(5), "places freed");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(connections.spawn(|| {}), "places come back");
    }
}
