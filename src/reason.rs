//! Readable reasons for rejected certificates: rustls prints some as Rust identifiers
//! (`UnknownIssuer`) and dates as UNIX seconds.

use rustls::CertificateError as E;
use rustls::pki_types::UnixTime;

/// Why a certificate was rejected, in words, with dates in UTC.
pub(crate) fn certificate_reason(err: &E) -> String {
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
        E::Expired => "the certificate has expired".to_owned(),
        E::NotValidYet => "the certificate is not valid yet".to_owned(),
        E::UnknownIssuer => "the certificate was not issued by a trusted root (an unknown or \
                             self-signed issuer, or an intermediate the peer did not send)"
            .to_owned(),
        E::BadSignature => "a signature in the certificate chain is invalid".to_owned(),
        E::BadEncoding => "the certificate is malformed".to_owned(),
        E::Revoked => "the certificate has been revoked".to_owned(),
        E::UnhandledCriticalExtension => {
            "the certificate has a critical extension that cannot be checked".to_owned()
        }
        E::NotValidForName => "the certificate is not valid for the server name".to_owned(),
        E::InvalidPurpose => "the certificate is not valid for this use (its extended key \
                              usage does not allow it)"
            .to_owned(),
        E::UnsupportedSignatureAlgorithmContext { .. } => {
            "the certificate is signed with an unsupported algorithm (SHA-1, say)".to_owned()
        }
        E::Other(other) => other_reason(&other.to_string()),
        // The Context variants of names and purposes already read well.
        other => other.to_string(),
    }
}

/// webpki's errors, which reach us as their identifiers.
fn other_reason(name: &str) -> String {
    let text = match name {
        "CaUsedAsEndEntity" => "a CA certificate was presented as the server's own certificate",
        "EndEntityUsedAsCa" => "a leaf certificate was used as an issuer",
        "NameConstraintViolation" => "the certificate violates its issuer's name constraints",
        "PathLenConstraintViolated" => "the chain is longer than an issuer allows",
        "MalformedDnsIdentifier" | "MalformedNameConstraint" => {
            "the certificate carries a malformed name"
        }
        "MissingOrMalformedExtensions" | "ExtensionValueInvalid" => {
            "the certificate has missing or malformed extensions"
        }
        "UnsupportedCertVersion" => "the certificate has an unsupported version",
        "RequiredEkuNotFound" => "the certificate's extended key usage does not allow this use",
        "InvalidCertValidity" => "the certificate's validity dates are inconsistent",
        "TrailingData(Cert)" | "BadDer" | "BadDerTime" => "the certificate is malformed",
        _ => return format!("the certificate was rejected ({name})"),
    };
    text.to_owned()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn utc_dates() {
        let at = |s| utc(&UnixTime::since_unix_epoch(Duration::from_secs(s)));
        assert_eq!(at(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(at(1_580_515_200), "2020-02-01 00:00:00 UTC");
        assert_eq!(at(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(at(4_102_444_799), "2099-12-31 23:59:59 UTC");
    }

    #[test]
    fn reasons_are_words() {
        assert!(certificate_reason(&E::UnknownIssuer).contains("trusted root"));
        let expired = E::ExpiredContext {
            time: UnixTime::since_unix_epoch(Duration::from_secs(1_700_000_000)),
            not_after: UnixTime::since_unix_epoch(Duration::from_secs(1_580_515_200)),
        };
        let text = certificate_reason(&expired);
        assert!(
            text.contains("2020-02-01") && text.contains("2023-11-14"),
            "{text}"
        );
    }
}
