//! Every read from outside has a ceiling: a portal streaming forever, `token_file = /dev/zero`
//! or a planted giant file costs bounded memory and ends in a clear error, never a hang.

use std::io::{self, Read};
use std::path::Path;

/// Portal bodies, token, config and cache files: far above anything real (a credentials body is
/// about 3 KB), far below harm.
pub const MAX_BYTES: u64 = 1 << 20;

/// What `read` fails with past the ceiling; callers match it to word their own message.
pub fn too_large() -> io::Error {
    io::Error::new(io::ErrorKind::FileTooLarge, "larger than 1 MiB")
}

/// All of `source`, or `too_large` once it passes `MAX_BYTES`.
pub fn read(source: impl Read) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    source.take(MAX_BYTES + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_BYTES {
        return Err(too_large());
    }
    Ok(buf)
}

/// A network body as text, capped; bytes that are not UTF-8 become U+FFFD.
pub fn read_lossy(source: impl Read) -> io::Result<String> {
    read(source).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// A text file, capped; a missing file is still `NotFound` for callers that treat it as absent.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    let bytes = read(std::fs::File::open(path)?)?;
    String::from_utf8(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_up_to_the_ceiling_and_no_further() {
        let at = MAX_BYTES as usize;
        assert_eq!(read(&vec![b'x'; at][..]).map(|b| b.len()).ok(), Some(at));
        let over = read(io::repeat(b'x')).map(|b| b.len());
        assert_eq!(over.map_err(|e| e.kind()), Err(io::ErrorKind::FileTooLarge));
    }
}
