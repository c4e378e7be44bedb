//! The loopback HTTP listener the browser login hands its token to (docs/protocol.md §2): its
//! bounds, and the hand-over of the login's outcome from a connection's thread. The HTTP is the
//! shared core's (`http`): each connection gets its own thread and one deadline for reading its
//! request and writing the reply, so a client that stalls holds up only itself, never the
//! portal's callback or the login's own timeout.

use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use crate::http::{self, Connections, Limits, Reply, Request, Unread};

/// How long one connection may take to send its request and read the reply.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(10);
const LIMITS: Limits = Limits {
    max_head: 16 * 1024,
    max_headers: 64,
    max_body: Some(64 * 1024),
};
/// Connections beyond this are closed at once; each lasts at most `CONNECTION_DEADLINE`.
const MAX_CONNECTIONS: usize = 32;
const POLL: Duration = Duration::from_millis(25);

pub struct Listener {
    inner: TcpListener,
    port: u16,
    /// Answer only connections from our own user (`only_own_user`).
    own_user_only: bool,
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
        Ok(Listener {
            inner,
            port,
            own_user_only: false,
        })
    }

    /// Refuse (403, and `handle` never sees the request) a connection whose other end is not
    /// our user's: another local user can reach 127.0.0.1 too (`peer`; known on Linux).
    pub fn only_own_user(mut self) -> Listener {
        self.own_user_only = true;
        self
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
        let handle = std::sync::Arc::new(handle);
        let connections = Connections::new(MAX_CONNECTIONS);
        let (tx, rx) = mpsc::channel();
        loop {
            loop {
                match self.inner.accept() {
                    Ok((stream, _)) => {
                        let (tx, handle) = (tx.clone(), handle.clone());
                        let own_user_only = self.own_user_only;
                        let taken = connections.spawn(move || {
                            if let Some(outcome) = connection(stream, own_user_only, &*handle) {
                                let _ = tx.send(outcome);
                            }
                        });
                        if !taken {
                            crate::output::debug(|| {
                                "login listener busy; connection dropped".into()
                            });
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

fn connection<T>(
    mut stream: TcpStream,
    own_user_only: bool,
    handle: &dyn Fn(&Request) -> (Reply, Option<T>),
) -> Option<T> {
    let deadline = Instant::now() + CONNECTION_DEADLINE;
    if stream.set_nonblocking(false).is_err() {
        return None;
    }
    let (mut reply, outcome) = match http::read_request(&mut stream, &LIMITS, deadline) {
        Ok(_) if own_user_only && !crate::peer::is_own_user(&stream) => {
            crate::output::debug(|| "loopback page: refused a connection of another user".into());
            (
                Reply::text(403, "forbidden: not the user who ran jit"),
                None,
            )
        }
        Ok(request) => handle(&request),
        Err(Unread::Answer(status)) => (Reply::text(status, "bad request"), None),
        Err(Unread::HangUp) => return None,
    };
    reply.headers.splice(
        0..0,
        [
            ("Connection", "close".to_string()),
            ("Cache-Control", "no-store".to_string()),
        ],
    );
    // The outcome stands even if the browser has gone before reading the reply.
    let left = deadline.saturating_duration_since(Instant::now());
    let _ = http::write_reply(&mut stream, &reply, left);
    outcome
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;
    use crate::http::tests::read;

    #[test]
    fn requests_keep_to_the_listener_bounds() {
        let within = Duration::from_secs(5);
        let pad = |n: usize| format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(n));
        assert!(read(pad(16 * 1024 - 23).as_bytes(), &LIMITS, within).is_ok());
        let over = read(pad(16 * 1024 - 22).as_bytes(), &LIMITS, within);
        assert_eq!(over.err(), Some(Unread::Answer(431)));
        let headers = |n: usize| format!("GET / HTTP/1.1\r\n{}\r\n", "X: y\r\n".repeat(n));
        assert!(read(headers(64).as_bytes(), &LIMITS, within).is_ok());
        let many = read(headers(65).as_bytes(), &LIMITS, within);
        assert_eq!(many.err(), Some(Unread::Answer(431)));
        let body = |n: usize| format!("POST / HTTP/1.1\r\nContent-Length: {n}\r\n\r\n");
        let large = read(body(64 * 1024 + 1).as_bytes(), &LIMITS, within);
        assert_eq!(large.err(), Some(Unread::Answer(413)));
    }

    #[test]
    fn replies_close_and_are_not_cached() {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let mut client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        client
            .write_all(b"GET /x?t=1 HTTP/1.1\r\nHost: h\r\n\r\n")
            .expect("send");
        let outcome = connection(server, true, &|req: &Request| {
            let mut reply = Reply::text(403, "no");
            reply
                .headers
                .push(("X-Seen", req.param("t").unwrap_or_default()));
            (reply, Some(7))
        });
        assert_eq!(outcome, Some(7));
        let mut got = String::new();
        client.read_to_string(&mut got).expect("read");
        assert_eq!(
            got,
            "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\nConnection: close\r\nCache-Control: no-store\r\nX-Seen: 1\r\n\r\nno"
        );
    }
}
