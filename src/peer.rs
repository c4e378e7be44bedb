//! Who is at the other end of a loopback TCP connection. TCP carries no peer credentials
//! (SO_PEERCRED is for Unix sockets), but on Linux the kernel lists every socket of the network
//! namespace with its owner's uid in /proc/net/tcp and tcp6 (read through the `procfs` crate):
//! the peer's socket is the entry whose local address is our remote one and whose remote
//! address is our local one. Elsewhere the owner is not known.

#[cfg(target_os = "linux")]
use std::net::SocketAddr;
use std::net::TcpStream;

/// Whether the peer of `stream` runs as our effective uid: false when its socket is not found
/// (gone already) or belongs to anyone else; true where this cannot be known (not Linux).
pub fn is_own_user(stream: &TcpStream) -> bool {
    #[cfg(target_os = "linux")]
    {
        let me = rustix::process::geteuid().as_raw();
        match owner(stream) {
            Some(uid) => uid == me,
            None => false,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = stream;
        true
    }
}

/// The uid owning the other end of `stream`, if it is a socket of this machine's namespace.
#[cfg(target_os = "linux")]
pub fn owner(stream: &TcpStream) -> Option<u32> {
    let ours = canonical(stream.local_addr().ok()?);
    let theirs = canonical(stream.peer_addr().ok()?);
    // A dual-stack peer lists an IPv4 connection in tcp6, with a mapped address.
    [procfs::net::tcp(), procfs::net::tcp6()]
        .into_iter()
        .filter_map(Result::ok)
        .flatten()
        .find(|e| canonical(e.local_address) == theirs && canonical(e.remote_address) == ours)
        .map(|e| e.uid)
}

#[cfg(target_os = "linux")]
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_connection_of_ours_is_ours() {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let _client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (accepted, _) = listener.accept().expect("accept");
        assert_eq!(owner(&accepted), Some(rustix::process::geteuid().as_raw()));
        assert!(is_own_user(&accepted));
    }
}
