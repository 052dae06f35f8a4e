//! Telling a TLS client from a plaintext one by its first bytes.
//!
//! Every TLS connection opens with a handshake record: content type 22 (`0x16`), then
//! the record version `0x03 0x00` to `0x03 0x04` (SSL 3.0 to TLS 1.3: clients put
//! `0x03 0x01` there for compatibility). One byte refutes TLS for nearly every plaintext
//! protocol (HTTP, SMTP, Redis: none starts with `0x16`); three settle it.

use std::io;

use futures_io::AsyncRead;
use futures_lite::AsyncReadExt;

use crate::error::{Error, Result};

/// The bytes read (at most three, and no more than needed) and whether they open a TLS
/// handshake record. A transport that ends before it is settled is not TLS.
pub(crate) async fn first_bytes<S>(io: &mut S) -> Result<(Vec<u8>, bool)>
where
    S: AsyncRead + Unpin,
{
    let mut buf = [0u8; 3];
    let mut len = 0;
    loop {
        if let Some(tls) = verdict(&buf[..len]) {
            return Ok((buf[..len].to_vec(), tls));
        }
        match io.read(&mut buf[len..]).await {
            Ok(0) => return Ok((buf[..len].to_vec(), false)),
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::from_io(e, "cannot read the first bytes")),
        }
    }
}

/// `Some(true)` for the start of a TLS handshake record, `Some(false)` for anything
/// else, `None` while `bytes` cannot tell yet.
fn verdict(bytes: &[u8]) -> Option<bool> {
    match bytes {
        [] => None,
        [0x16] | [0x16, 0x03] => None,
        [0x16, 0x03, minor, ..] => Some(*minor <= 0x04),
        _ => Some(false),
    }
}

#[cfg(test)]
mod tests {
    use super::verdict;

    #[test]
    fn decides_on_as_few_bytes_as_it_can() {
        assert_eq!(verdict(b""), None);
        assert_eq!(verdict(b"G"), Some(false));
        assert_eq!(verdict(&[0x16]), None);
        assert_eq!(verdict(&[0x16, 0x02]), Some(false));
        assert_eq!(verdict(&[0x16, 0x03]), None);
        for minor in 0..=4 {
            assert_eq!(verdict(&[0x16, 0x03, minor]), Some(true));
        }
        assert_eq!(verdict(&[0x16, 0x03, 0x05]), Some(false));
        assert_eq!(verdict(&[0x80, 0x2e, 0x01]), Some(false)); // an SSL 2 hello
    }
}
