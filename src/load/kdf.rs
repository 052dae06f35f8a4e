//! Limits on password-based key derivation, shared by encrypted PKCS#8 keys and PKCS#12
//! archives.
//!
//! The derivation parameters come from the file, so they are checked against these
//! limits before any derivation: a hostile file cannot make a load take minutes or
//! gigabytes. One derivation may cost at most as much as the strongest settings in use
//! (a million PBKDF2 iterations, or scrypt with N = 2^20, r = 8, p = 1); an archive, which
//! may ask for several, at most [`MAX_DERIVATIONS`] times that in all.

/// The most iterations one derivation may ask for: PBKDF2, or the PKCS#12 key
/// derivation of a MAC or of a legacy (RC2, 3DES) bag. OpenSSL writes 2048, current
/// advice is up to 600,000 (OWASP, HMAC-SHA256); a million takes about 0.1 s in an
/// optimised build (but seconds in an unoptimised one).
pub(crate) const MAX_ITERATIONS: u64 = 1_000_000;

/// The largest scrypt cost parameter N, as log2: 2^20 (OpenSSL writes 2^14).
pub(crate) const MAX_SCRYPT_LOG_N: u32 = 20;

/// The most memory scrypt may need, 128 * N * r bytes: 1 GiB.
pub(crate) const MAX_SCRYPT_MEMORY: u64 = 1 << 30;

/// The most scrypt work, N * r * p (in 128-byte block mixes): that of N = 2^20, r = 8, p = 1.
pub(crate) const MAX_SCRYPT_WORK: u64 = 1 << 23;

/// How many derivations at the limit one archive may ask for in all (its MAC, its
/// encrypted contents and its key bags): the iterations of all of them together may be
/// at most this many times [`MAX_ITERATIONS`], and their scrypt work this many times
/// [`MAX_SCRYPT_WORK`]. OpenSSL's archives ask for three derivations of 2048 iterations.
pub(crate) const MAX_DERIVATIONS: u64 = 4;

/// One password-based key derivation, as the file describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kdf {
    /// An iterated derivation (PBKDF2, the PKCS#12 KDF); `what` names it in messages.
    Iterated { what: &'static str, iterations: u64 },
    /// scrypt with cost N, block size r and parallelism p.
    Scrypt { n: u64, r: u64, p: u64 },
}

impl Kdf {
    /// The derivation of PBES2 parameters, or `None` for a function this crate does not
    /// know (none such is decoded today: the enum is non-exhaustive).
    pub(crate) fn from_pbes2(kdf: &pkcs5::pbes2::Kdf) -> Option<Kdf> {
        match kdf {
            pkcs5::pbes2::Kdf::Pbkdf2(p) => Some(Kdf::Iterated {
                what: "pbkdf2",
                iterations: u64::from(p.iteration_count),
            }),
            pkcs5::pbes2::Kdf::Scrypt(p) => Some(Kdf::Scrypt {
                n: p.cost_parameter,
                r: u64::from(p.block_size),
                p: u64::from(p.parallelization),
            }),
            _ => None,
        }
    }

    /// Why this derivation is refused, if it is: a lowercase phrase without the origin.
    fn check(self) -> Result<(), String> {
        match self {
            Kdf::Iterated { what, iterations } if iterations > MAX_ITERATIONS => Err(format!(
                "{what} iteration count {iterations} exceeds the limit ({MAX_ITERATIONS})"
            )),
            Kdf::Iterated {
                what,
                iterations: 0,
            } => Err(format!("{what} iteration count 0 is invalid")),
            Kdf::Iterated { .. } => Ok(()),
            Kdf::Scrypt { n, r, p } => {
                if n < 2 || !n.is_power_of_two() || r == 0 || p == 0 {
                    return Err(format!(
                        "invalid scrypt parameters (N = {n}, r = {r}, p = {p})"
                    ));
                }
                if n.ilog2() > MAX_SCRYPT_LOG_N {
                    return Err(format!(
                        "scrypt cost parameter N = {n} exceeds the limit (2^{MAX_SCRYPT_LOG_N})"
                    ));
                }
                let memory = n.saturating_mul(r).saturating_mul(128);
                if memory > MAX_SCRYPT_MEMORY {
                    return Err(format!(
                        "scrypt memory cost 128 * N * r = {memory} bytes exceeds the limit \
                         ({MAX_SCRYPT_MEMORY})"
                    ));
                }
                let work = self.scrypt_work();
                if work > MAX_SCRYPT_WORK {
                    return Err(format!(
                        "scrypt work N * r * p = {work} exceeds the limit ({MAX_SCRYPT_WORK})"
                    ));
                }
                Ok(())
            }
        }
    }

    fn iterations(self) -> u64 {
        match self {
            Kdf::Iterated { iterations, .. } => iterations,
            Kdf::Scrypt { .. } => 0,
        }
    }

    fn scrypt_work(self) -> u64 {
        match self {
            Kdf::Iterated { .. } => 0,
            Kdf::Scrypt { n, r, p } => n.saturating_mul(r).saturating_mul(p),
        }
    }
}

/// Checks the derivations one file asks for, each and together (see
/// [`MAX_DERIVATIONS`]); the error is why they are refused, a lowercase phrase without
/// the origin.
pub(crate) fn check_all(kdfs: &[Kdf]) -> Result<(), String> {
    for kdf in kdfs {
        kdf.check()?;
    }
    // Each is within its limit, so these sums cannot overflow for any realistic count;
    // saturate anyway.
    let iterations = kdfs
        .iter()
        .fold(0u64, |sum, k| sum.saturating_add(k.iterations()));
    let max_iterations = MAX_DERIVATIONS * MAX_ITERATIONS;
    if iterations > max_iterations {
        return Err(format!(
            "the key derivations ask for {iterations} iterations in all, more than the \
             limit ({max_iterations})"
        ));
    }
    let work = kdfs
        .iter()
        .fold(0u64, |sum, k| sum.saturating_add(k.scrypt_work()));
    let max_work = MAX_DERIVATIONS * MAX_SCRYPT_WORK;
    if work > max_work {
        return Err(format!(
            "the key derivations ask for scrypt work {work} in all, more than the limit \
             ({max_work})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pbkdf2(iterations: u64) -> Kdf {
        Kdf::Iterated {
            what: "pbkdf2",
            iterations,
        }
    }

    #[test]
    fn limits_of_one_derivation() {
        assert_eq!(pbkdf2(MAX_ITERATIONS).check(), Ok(()));
        let err = pbkdf2(MAX_ITERATIONS + 1).check().unwrap_err();
        assert_eq!(
            err,
            "pbkdf2 iteration count 1000001 exceeds the limit (1000000)"
        );
        assert!(pbkdf2(0).check().unwrap_err().contains("0 is invalid"));
        let scrypt = |n, r, p| Kdf::Scrypt { n, r, p }.check();
        assert_eq!(scrypt(1 << 20, 8, 1), Ok(()));
        assert!(
            scrypt(1 << 21, 1, 1)
                .unwrap_err()
                .contains("cost parameter")
        );
        assert!(scrypt(1 << 14, 1 << 20, 1).unwrap_err().contains("memory"));
        assert!(scrypt(1 << 14, 8, 1 << 10).unwrap_err().contains("work"));
        // Values no decoder gives (r and p are 16-bit there): no overflow all the same.
        assert!(scrypt(1 << 14, u64::MAX, u64::MAX).is_err());
        assert!(scrypt(1 << 14, 8, u64::MAX).is_err());
        assert!(scrypt(3, 8, 1).unwrap_err().contains("invalid"));
    }

    #[test]
    fn limits_of_all_derivations_together() {
        let at_limit = pbkdf2(MAX_ITERATIONS);
        let scrypt_at_limit = Kdf::Scrypt {
            n: 1 << 20,
            r: 8,
            p: 1,
        };
        let mut kdfs = vec![at_limit; MAX_DERIVATIONS as usize];
        kdfs.extend(vec![scrypt_at_limit; MAX_DERIVATIONS as usize]);
        assert_eq!(check_all(&kdfs), Ok(()));
        let mut more = kdfs.clone();
        more.push(pbkdf2(1));
        assert!(check_all(&more).unwrap_err().contains("iterations in all"));
        kdfs.push(scrypt_at_limit);
        assert!(check_all(&kdfs).unwrap_err().contains("scrypt work"));
        assert!(check_all(&[pbkdf2(5), pbkdf2(0)]).is_err());
    }
}
