//! The crate's error type: one opaque [`Error`] with a coarse [`ErrorKind`], and the
//! wording of rejected certificates (rustls prints some reasons as Rust identifiers,
//! such as `UnknownIssuer`, and dates as UNIX seconds).

#[cfg(test)]
mod tests;

use std::error::Error as StdError;
use std::fmt;
use std::io;

use rustls::CertificateError;
use rustls::pki_types::UnixTime;

/// What went wrong, coarsely: the question a caller branches on.
///
/// The finer cause is in [`std::error::Error::source`] of the [`Error`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The transport failed: a read or write error, or a connection closed mid-handshake.
    Io,
    /// A host name could not be resolved.
    Resolve,
    /// No TCP connection could be made to any address of the host.
    Connect,
    /// A bad host, port, server name or argument.
    InvalidInput,
    /// A file, PEM, DER, PKCS#8 or PKCS#12 object could not be read or parsed, or a
    /// private key does not match its certificate. The message names the path.
    Load,
    /// A policy that cannot work: no identity for a server, no roots with verification on.
    Config,
    /// The peer's certificate was rejected (expired, wrong name, unknown issuer, ...).
    Certificate,
    /// Any other handshake or protocol failure, alerts from the peer included.
    Tls,
    /// A connect or handshake deadline passed.
    TimedOut,
    /// Something this build or rustls cannot do (DTLS, TLS below 1.2, a missing feature).
    Unsupported,
}

impl ErrorKind {
    fn io_kind(self) -> io::ErrorKind {
        match self {
            ErrorKind::Io => io::ErrorKind::Other,
            ErrorKind::Resolve => io::ErrorKind::NotFound,
            ErrorKind::Connect => io::ErrorKind::ConnectionRefused,
            ErrorKind::InvalidInput | ErrorKind::Config => io::ErrorKind::InvalidInput,
            ErrorKind::Load | ErrorKind::Certificate | ErrorKind::Tls => io::ErrorKind::InvalidData,
            ErrorKind::TimedOut => io::ErrorKind::TimedOut,
            ErrorKind::Unsupported => io::ErrorKind::Unsupported,
        }
    }
}

/// The error type of every fallible operation in this crate.
///
/// # Formatting
///
/// `Display` prints one lowercase line that says what failed at this level ("cannot
/// listen on 127.0.0.1:443", "tls handshake failed"); the cause is the
/// [`source()`](std::error::Error::source) (an [`io::Error`], a [`rustls::Error`], ...),
/// never repeated in the message, so that a reporter that walks the sources (anyhow's
/// `{:#}`) prints each cause once. Print the chain, not just the top line, when you log.
/// Two failures say why in their own words, since that is what a caller shows a user: a
/// rejected certificate (the names it is valid for, or its validity dates) and an alert
/// from the peer (its name); their source is rustls's error, worded by rustls.
/// When one failure has several causes (a connect that tried several addresses),
/// `Display` says what failed and how many were tried, and `source()` lists each with
/// its cause.
///
/// # Conversion
///
/// `From<Error> for io::Error` keeps the kind ([`ErrorKind::TimedOut`] becomes
/// [`io::ErrorKind::TimedOut`], and so on) and the original `Error` can be downcast back
/// out of the `io::Error`. Errors returned by [`TlsStream`](crate::TlsStream)'s
/// `AsyncRead`/`AsyncWrite` methods carry a `tlsport::Error` this way whenever TLS, not
/// the transport, failed.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Makes an error of `kind` with a message and no source.
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                source: None,
            }),
        }
    }

    /// Makes an error of `kind` with a message and the underlying cause.
    pub(crate) fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                source: Some(source.into()),
            }),
        }
    }

    /// Classifies an error from rustls: certificate problems become
    /// [`ErrorKind::Certificate`], everything else [`ErrorKind::Tls`].
    pub(crate) fn from_rustls(err: rustls::Error) -> Error {
        use rustls::Error as E;
        let kind = match &err {
            E::InvalidCertificate(_) | E::NoCertificatesPresented => ErrorKind::Certificate,
            _ => ErrorKind::Tls,
        };
        use rustls::InvalidMessage as M;
        let message = match &err {
            E::InvalidCertificate(cert) => {
                format!("peer certificate rejected: {}", certificate_reason(cert))
            }
            E::NoCertificatesPresented => {
                "the peer presented no certificate, but one is required".to_owned()
            }
            E::AlertReceived(alert) => format!("the peer sent a fatal alert: {alert:?}"),
            E::InvalidMessage(M::HandshakePayloadTooLarge | M::CertificatePayloadTooLarge) => {
                "the peer sent a handshake message larger than rustls accepts (64 KiB): a \
                 very large certificate chain?"
                    .to_owned()
            }
            E::InvalidMessage(
                M::InvalidContentType | M::UnknownProtocolVersion | M::MessageTooLarge,
            ) => "the peer sent data that is not valid TLS: is it speaking TLS on this port?"
                .to_owned(),
            E::InvalidMessage(_) => "the peer sent a malformed TLS message".to_owned(),
            _ => "tls handshake or record failure".to_owned(),
        };
        // Names and messages can come from the peer: keep control characters out of logs.
        Error::with_source(kind, printable(&message), err)
    }

    /// Turns an `io::Error` from the record layer back into an `Error`, unwrapping one of
    /// ours if it carries one.
    pub(crate) fn from_io(err: io::Error, context: &str) -> Error {
        let err = match err.downcast::<Error>() {
            Ok(ours) => return ours,
            Err(err) => err,
        };
        let kind = match err.kind() {
            io::ErrorKind::TimedOut => ErrorKind::TimedOut,
            _ => ErrorKind::Io,
        };
        Error::with_source(kind, context, err)
    }

    /// The coarse kind of this error.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The reason rustls gave for rejecting the peer's certificate, when that is what
    /// happened.
    ///
    /// ```
    /// # fn check(err: &tlsport::Error) {
    /// use tlsport::rustls::CertificateError;
    /// if let Some(CertificateError::Expired | CertificateError::ExpiredContext { .. }) =
    ///     err.certificate_error()
    /// {
    ///     eprintln!("the server's certificate has expired");
    /// }
    /// # }
    /// ```
    pub fn certificate_error(&self) -> Option<&rustls::CertificateError> {
        match self.rustls_error()? {
            rustls::Error::InvalidCertificate(cert) => Some(cert),
            _ => None,
        }
    }

    /// The underlying rustls error, when rustls reported this failure.
    pub fn rustls_error(&self) -> Option<&rustls::Error> {
        self.inner
            .source
            .as_deref()?
            .downcast_ref::<rustls::Error>()
    }
}

/// `text` with control characters (a NUL in a certificate name, say) escaped.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Why a certificate was rejected, in words, with dates in UTC. rustls's own wording stays
/// in the error's source.
fn certificate_reason(err: &CertificateError) -> String {
    use CertificateError as E;
    match err {
        E::ExpiredContext { time, not_after } => format!(
            "the certificate expired at {} (it is now {})",
            utc(not_after),
            utc(time)
        ),
        E::NotValidYetContext { time, not_before } => format!(
            "the certificate is not valid until {} (it is now {})",
            utc(not_before),
            utc(time)
        ),
        E::NotValidForNameContext {
            expected,
            presented,
        } => match presented.as_slice() {
            [] => format!(
                "the certificate names no host (no subjectAltName), so not {:?}",
                expected.to_str()
            ),
            names => format!(
                "the certificate is valid for {}, not for {:?}",
                names.join(", "),
                expected.to_str()
            ),
        },
        E::InvalidPurposeContext {
            required,
            presented,
        } => {
            let presented: Vec<String> = presented.iter().map(purpose).collect();
            format!(
                "the certificate is not valid for {}: its extended key usage allows {}",
                purpose(required),
                match presented.is_empty() {
                    true => "nothing".to_owned(),
                    false => presented.join(", "),
                }
            )
        }
        E::ExpiredRevocationListContext { time, next_update } => format!(
            "the certificate revocation list expired at {} (it is now {})",
            utc(next_update),
            utc(time)
        ),
        E::Other(other) => other
            .0
            .downcast_ref::<webpki::Error>()
            .and_then(webpki_reason)
            .unwrap_or("the certificate was rejected")
            .to_owned(),
        other => simple_reason(other).to_owned(),
    }
}

/// The reason for the variants without context.
fn simple_reason(err: &CertificateError) -> &'static str {
    use CertificateError as E;
    #[allow(deprecated)] // UnsupportedSignatureAlgorithm, still made by older rustls
    match err {
        E::Expired => "the certificate has expired",
        E::NotValidYet => "the certificate is not valid yet",
        E::UnknownIssuer => {
            "the certificate was not issued by a trusted root (an unknown or self-signed \
             issuer, or an intermediate the peer did not send)"
        }
        E::BadSignature => "a signature in the certificate chain is invalid",
        E::BadEncoding => "the certificate is malformed",
        E::Revoked => "the certificate has been revoked",
        E::UnhandledCriticalExtension => {
            "the certificate has a critical extension that cannot be checked"
        }
        E::NotValidForName => "the certificate is not valid for the server name",
        E::InvalidPurpose => {
            "the certificate is not valid for this use (its extended key usage does not allow it)"
        }
        E::UnsupportedSignatureAlgorithm | E::UnsupportedSignatureAlgorithmContext { .. } => {
            "the certificate is signed with an unsupported algorithm (SHA-1, say)"
        }
        E::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "a signature in the certificate chain uses an algorithm that does not fit its key"
        }
        E::UnknownRevocationStatus => "the certificate's revocation status is unknown",
        E::ExpiredRevocationList => "the certificate revocation list has expired",
        E::InvalidOcspResponse => "the OCSP response stapled to the certificate is invalid",
        E::ApplicationVerificationFailure => "the application's verifier refused the certificate",
        _ => "the certificate was rejected",
    }
}

/// An extended key usage, in words.
fn purpose(purpose: &rustls::ExtendedKeyPurpose) -> String {
    use rustls::ExtendedKeyPurpose as P;
    match purpose {
        P::ServerAuth => "servers (serverAuth)".to_owned(),
        P::ClientAuth => "clients (clientAuth)".to_owned(),
        P::Other(arcs) => {
            let arcs: Vec<String> = arcs.iter().map(usize::to_string).collect();
            format!("OID {}", arcs.join("."))
        }
    }
}

/// The webpki errors that rustls passes on as `CertificateError::Other`, in words.
fn webpki_reason(err: &webpki::Error) -> Option<&'static str> {
    use webpki::Error as W;
    Some(match err {
        W::CaUsedAsEndEntity => "a CA certificate was presented as the server's own certificate",
        W::EndEntityUsedAsCa => "a leaf certificate was used as an issuer",
        W::NameConstraintViolation => "the certificate violates its issuer's name constraints",
        W::PathLenConstraintViolated => "the chain is longer than an issuer allows",
        W::MalformedDnsIdentifier
        | W::MalformedNameConstraint
        | W::InvalidNetworkMaskConstraint => "the certificate carries a malformed name",
        W::MalformedExtensions | W::ExtensionValueInvalid | W::EmptyEkuExtension => {
            "the certificate has missing or malformed extensions"
        }
        W::UnsupportedCertVersion => "the certificate has an unsupported version",
        W::UnsupportedCriticalExtension => {
            "the certificate has a critical extension that cannot be checked"
        }
        W::UnsupportedNameType => "the certificate names its host in a form that cannot be checked",
        W::InvalidSerialNumber => "the certificate has an invalid serial number",
        W::CertDistrusted => "the certificate's key is explicitly distrusted",
        W::SignatureAlgorithmMismatch => {
            "a certificate's signature algorithm differs from the one it was signed with"
        }
        W::MaximumPathDepthExceeded
        | W::MaximumPathBuildCallsExceeded
        | W::MaximumSignatureChecksExceeded
        | W::MaximumNameConstraintComparisonsExceeded => {
            "the certificate chain is too long or too complex to verify"
        }
        #[allow(deprecated)]
        W::RequiredEkuNotFound | W::RequiredEkuNotFoundContext(_) => {
            "the certificate's extended key usage does not allow this use"
        }
        W::InvalidCertValidity => "the certificate's validity dates are inconsistent",
        W::TrailingData(_) | W::BadDer | W::BadDerTime => "the certificate is malformed",
        _ => return None,
    })
}

/// `YYYY-MM-DD HH:MM:SS UTC` for a UNIX time (proleptic Gregorian calendar).
fn utc(time: &UnixTime) -> String {
    let secs = time.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

/// An error and its causes on one line, `what failed: why: why that`, as anyhow's `{:#}`
/// prints them, with control characters escaped: for logs, which get one line.
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn StdError + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&printable(&self.0.to_string()))?;
        let mut cause = self.0.source();
        while let Some(err) = cause {
            write!(f, ": {}", printable(&err.to_string()))?;
            cause = err.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        let kind = match err.inner.source.as_deref() {
            Some(source) if err.kind() == ErrorKind::Io || err.kind() == ErrorKind::Load => source
                .downcast_ref::<io::Error>()
                .map_or(err.kind().io_kind(), io::Error::kind),
            _ => err.kind().io_kind(),
        };
        io::Error::new(kind, err)
    }
}

impl From<io::Error> for Error {
    /// An [`ErrorKind::Io`] error (or [`ErrorKind::TimedOut`]), or the `tlsport::Error`
    /// the `io::Error` carries (from a [`TlsStream`](crate::TlsStream) read or write), so
    /// that `?` works on stream I/O inside functions returning [`Result`].
    fn from(err: io::Error) -> Error {
        Error::from_io(err, "i/o error")
    }
}
