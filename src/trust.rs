//! What another local user could have planted is refused, as ssh does with `~/.ssh`: the cache
//! and the config must be ours, their dirs are created private whatever the umask, and the
//! cache's files are never reached through a symlink. Unix only; elsewhere the OS's ACLs decide.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

#[cfg(unix)]
use std::fs::{Metadata, Permissions};
#[cfg(unix)]
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};

#[cfg(unix)]
use rustix::fs::OFlags;

#[cfg(unix)]
fn flags(f: OFlags) -> i32 {
    i32::try_from(f.bits()).unwrap_or(0)
}

/// `dir` and any parent it needs, created 0700 (an existing dir keeps its mode).
pub fn private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// Private files, never opened through a symlink, and a FIFO never blocks the open.
#[cfg(unix)]
pub fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options
        .mode(0o600)
        .custom_flags(flags(OFlags::NOFOLLOW | OFlags::NONBLOCK));
    options
}

#[cfg(not(unix))]
pub fn options() -> OpenOptions {
    OpenOptions::new()
}

#[cfg(unix)]
fn refuse(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, why)
}

#[cfg(unix)]
fn check_owner(meta: &Metadata, root_too: bool) -> io::Result<()> {
    let me = rustix::process::geteuid().as_raw();
    match meta.uid() == me || (root_too && meta.uid() == 0) {
        true => Ok(()),
        false => Err(refuse(format!(
            "not owned by you (owner uid {}, you are uid {me})",
            meta.uid()
        ))),
    }
}

#[cfg(unix)]
fn owned(meta: &Metadata) -> io::Result<()> {
    check_owner(meta, false)
}

/// A file of the cache: ours, a regular file, not reached through a symlink.
#[cfg(unix)]
pub fn open(path: &Path, options: &OpenOptions) -> io::Result<File> {
    let file = options.open(path).map_err(|e| {
        match e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
            true => refuse("it is a symbolic link, not followed".into()),
            false => e,
        }
    })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refuse("not a regular file".into()));
    }
    owned(&meta)?;
    Ok(file)
}

#[cfg(not(unix))]
pub fn open(path: &Path, options: &OpenOptions) -> io::Result<File> {
    options.open(path)
}

/// The cache dir must be ours; with `fix` it is made private through a handle opened
/// without following links. A symlink to a directory is followed only when the directory
/// is ours and private already: a planted link never gets its target chmodded.
#[cfg(unix)]
pub fn dir(dir: &Path, fix: bool) -> io::Result<()> {
    if std::fs::symlink_metadata(dir)?.is_symlink() {
        let meta = std::fs::metadata(dir)?;
        owned(&meta)?;
        if meta.mode() & 0o077 != 0 {
            return Err(refuse(
                "it is a symbolic link to a directory others can open; not changing it".into(),
            ));
        }
        return Ok(());
    }
    let handle = OpenOptions::new()
        .read(true)
        .custom_flags(flags(OFlags::NOFOLLOW | OFlags::DIRECTORY))
        .open(dir)?;
    let meta = handle.metadata()?;
    owned(&meta)?;
    if fix && meta.mode() & 0o077 != 0 {
        handle.set_permissions(Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn dir(_: &Path, _: bool) -> io::Result<()> {
    Ok(())
}

/// What a user keeps and may point elsewhere (a config file or dir linked from a dotfiles
/// repo, `/dev/zero` named on purpose): links are followed, and it must be ours or root's
/// (root could change it anyway). Another user's is refused: it would say which portal our
/// token goes to.
#[cfg(unix)]
pub fn owned_or_root(meta: &std::fs::Metadata) -> io::Result<()> {
    check_owner(meta, true)
}

#[cfg(not(unix))]
pub fn owned_or_root(_: &std::fs::Metadata) -> io::Result<()> {
    Ok(())
}
