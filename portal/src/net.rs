//! The listener: accepts connections for as long as the process runs. No accept error ends it;
//! running out of descriptors sheds the longest-idle connection instead. Connections are capped
//! (below the descriptor limit), idle ones are closed, and slow headers time out.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::metrics;

pub struct Limits {
    pub max_connections: usize,
    /// A connection with no request in flight for this long is closed.
    pub idle: Duration,
    /// A request's headers (and a TLS handshake) must arrive within this.
    pub header: Duration,
    /// Whether this listener's connections show in the metrics: the public listener's do, the
    /// metrics listener's own do not.
    pub counted: bool,
}

/// Descriptors kept free for the database, STS calls and log files.
const RESERVED_FDS: u64 = 128;

/// The connection cap: what was asked for, but never more than the descriptor limit allows.
pub fn connection_cap(wanted: usize) -> (usize, Option<u64>) {
    match rustix::process::getrlimit(rustix::process::Resource::Nofile).current {
        Some(limit) => {
            let room =
                usize::try_from(limit.saturating_sub(RESERVED_FDS).max(16)).unwrap_or(usize::MAX);
            (wanted.min(room), Some(limit))
        }
        None => (wanted, None),
    }
}

struct Slot {
    last: Instant,
    busy: usize,
    kill: Arc<Notify>,
}

/// Every open connection, so the longest-idle ones can be closed when room is needed.
#[derive(Default)]
pub struct Registry {
    slots: Mutex<HashMap<u64, Slot>>,
    next: AtomicU64,
    pub shed: AtomicU64,
    pub refused: AtomicU64,
    counted: bool,
}

impl Registry {
    fn counted() -> Registry {
        Registry {
            counted: true,
            ..Registry::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The open connections gauge follows the slots (called with their lock held, so two
    /// changes cannot report out of order).
    fn changed(&self, slots: &HashMap<u64, Slot>) {
        if self.counted {
            metrics::open_connections(slots.len());
        }
    }

    fn shed_metric(&self, reason: metrics::Shed) {
        if self.counted {
            metrics::shed(reason);
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    fn open(&self) -> (u64, Arc<Notify>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let kill = Arc::new(Notify::new());
        let mut slots = self.lock();
        slots.insert(
            id,
            Slot {
                last: Instant::now(),
                busy: 0,
                kill: kill.clone(),
            },
        );
        self.changed(&slots);
        (id, kill)
    }

    fn close(&self, id: u64) {
        let mut slots = self.lock();
        if slots.remove(&id).is_some() {
            self.changed(&slots);
        }
    }

    fn begin(&self, id: u64) {
        if let Some(s) = self.lock().get_mut(&id) {
            s.busy += 1;
        }
    }

    fn end(&self, id: u64) {
        if let Some(s) = self.lock().get_mut(&id) {
            s.busy = s.busy.saturating_sub(1);
            s.last = Instant::now();
        }
    }

    /// Close the connection that has waited longest without a request. False if every one is
    /// busy.
    fn shed_oldest_idle(&self) -> bool {
        let mut slots = self.lock();
        let oldest = slots
            .iter()
            .filter(|(_, s)| s.busy == 0)
            .min_by_key(|(_, s)| s.last)
            .map(|(id, _)| *id);
        match oldest.and_then(|id| slots.remove(&id)) {
            Some(slot) => {
                slot.kill.notify_one();
                self.shed.fetch_add(1, Ordering::Relaxed);
                self.changed(&slots);
                self.shed_metric(metrics::Shed::LongestIdle);
                true
            }
            None => false,
        }
    }

    /// Close every connection idle for longer than `idle`.
    fn reap(&self, idle: Duration) {
        let now = Instant::now();
        let mut slots = self.lock();
        let before = slots.len();
        slots.retain(|_, s| {
            let keep = s.busy > 0 || now.duration_since(s.last) < idle;
            if !keep {
                s.kill.notify_one();
            }
            keep
        });
        if slots.len() != before {
            self.changed(&slots);
        }
    }
}

/// Marks a connection busy for as long as a request is being answered.
struct Busy {
    registry: Arc<Registry>,
    id: u64,
}

impl Busy {
    fn new(registry: Arc<Registry>, id: u64) -> Busy {
        registry.begin(id);
        Busy { registry, id }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.registry.end(self.id);
    }
}

/// Load a PEM certificate chain and private key for serving TLS directly.
pub fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> Result<TlsAcceptor> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow!("cannot read certificates from {}: {e}", cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("no certificate in {}", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow!("cannot read a private key from {}: {e}", key.display()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("cannot set up TLS")?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .context("the TLS certificate and key do not fit together")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn is_descriptor_exhaustion(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(code) if code == rustix::io::Errno::MFILE.raw_os_error()
            || code == rustix::io::Errno::NFILE.raw_os_error()
            || code == rustix::io::Errno::NOBUFS.raw_os_error()
            || code == rustix::io::Errno::NOMEM.raw_os_error()
    )
}

/// Accept and serve until `shutdown` resolves; then give requests in flight a few seconds.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let registry = Arc::new(if limits.counted {
        Registry::counted()
    } else {
        Registry::default()
    });
    let limits = Arc::new(limits);
    let reaper = {
        let registry = registry.clone();
        let idle = limits.idle;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500).min(idle));
            loop {
                tick.tick().await;
                registry.reap(idle);
            }
        })
    };
    tokio::pin!(shutdown);
    let mut last_warning: Option<Instant> = None;
    let mut errors_since_warning = 0u64;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                if registry.len() >= limits.max_connections && !registry.shed_oldest_idle() {
                    registry.refused.fetch_add(1, Ordering::Relaxed);
                    registry.shed_metric(metrics::Shed::AllBusy);
                    drop(stream);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let (id, kill) = registry.open();
                tokio::spawn(connection(
                    stream,
                    peer,
                    tls.clone(),
                    app.clone(),
                    registry.clone(),
                    id,
                    kill,
                    limits.clone(),
                ));
            }
            Err(e) => {
                // Out of descriptors, a connection reset before accept, a full kernel table:
                // all pass. Make room, wait a moment, and go on.
                let exhausted = is_descriptor_exhaustion(&e);
                if exhausted {
                    registry.shed_oldest_idle();
                }
                errors_since_warning += 1;
                if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    tracing::warn!(
                        "accept failed ({errors_since_warning} times since the last warning): {e}; {} connections open, still serving",
                        registry.len()
                    );
                    last_warning = Some(Instant::now());
                    errors_since_warning = 0;
                }
                let pause = if exhausted { 20 } else { 2 };
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
        }
    }
    drop(listener);
    reaper.abort();
    // Idle connections go now; busy ones get a few seconds to finish.
    registry.reap(Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs(10);
    while registry.len() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        registry.reap(Duration::ZERO);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    app: Router,
    registry: Arc<Registry>,
    id: u64,
    kill: Arc<Notify>,
    limits: Arc<Limits>,
) {
    match tls {
        None => http(stream, peer, app, &registry, id, &kill, &limits).await,
        Some(acceptor) => {
            let handshake = tokio::select! {
                h = tokio::time::timeout(limits.header, acceptor.accept(stream)) => h,
                () = kill.notified() => { registry.close(id); return; }
            };
            if let Ok(Ok(stream)) = handshake {
                http(stream, peer, app, &registry, id, &kill, &limits).await;
            }
        }
    }
    registry.close(id);
}

async fn http<I>(
    io: I,
    peer: SocketAddr,
    app: Router,
    registry: &Arc<Registry>,
    id: u64,
    kill: &Notify,
    limits: &Limits,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let registry_for_requests = registry.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        let busy = Busy::new(registry_for_requests.clone(), id);
        let app = app.clone();
        async move {
            let response = app.oneshot(request.map(axum::body::Body::new)).await;
            drop(busy);
            response
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header)
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(io), service);
    tokio::select! {
        _ = conn => {}
        () = kill.notified() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_idle_connection_goes_first_and_busy_ones_stay() {
        let reg = Registry::default();
        let (a, _) = reg.open();
        std::thread::sleep(Duration::from_millis(5));
        let (b, _) = reg.open();
        std::thread::sleep(Duration::from_millis(5));
        let (c, _) = reg.open();
        reg.begin(a);
        assert!(reg.shed_oldest_idle());
        let left: Vec<u64> = {
            let mut v: Vec<u64> = reg.lock().keys().copied().collect();
            v.sort_unstable();
            v
        };
        assert_eq!(left, vec![a, c], "b was the oldest idle one; a is busy");
        reg.reap(Duration::ZERO);
        assert_eq!(reg.len(), 1, "only the busy one survives");
        reg.end(a);
        reg.reap(Duration::ZERO);
        assert_eq!(reg.len(), 0);
        let _ = b;
    }

    #[test]
    fn the_cap_stays_below_the_descriptor_limit() {
        let (cap, limit) = connection_cap(usize::MAX);
        if let Some(limit) = limit {
            assert!((cap as u64) < limit.max(RESERVED_FDS + 16));
        }
    }
}
