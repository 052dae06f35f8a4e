//! Shared test helpers: a PKI made with rcgen at test time, policies over it, in-memory
//! handshakes, and deadlines. Nothing here is committed key material.
#![allow(dead_code)]

pub mod peer;
pub mod scripted;

use std::future::Future;
use std::time::Duration;

use futures_lite::future;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tlsport::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tlsport::{Acceptor, CaBundle, Connector, DuplexStream, Identity, Policy, TlsStream};

/// A certificate and its key, as PEM.
pub struct Pem {
    pub cert: String,
    pub key: String,
}

impl Pem {
    pub fn identity(&self) -> Identity {
        Identity::from_pem(self.cert.as_bytes(), self.key.as_bytes()).expect("test identity")
    }

    pub fn cert_der(&self) -> CertificateDer<'static> {
        use tlsport::pki_types::pem::PemObject;
        CertificateDer::from_pem_slice(self.cert.as_bytes()).unwrap()
    }

    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        use tlsport::pki_types::pem::PemObject;
        PrivateKeyDer::from_pem_slice(self.key.as_bytes()).unwrap()
    }
}

/// A certificate authority that signs test certificates.
pub struct Ca {
    pub root: CertificateDer<'static>,
    pub root_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Ca {
            root: cert.der().clone(),
            root_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `names`, signed by this CA, after `tweak` adjusts its parameters.
    pub fn leaf_with(&self, names: &[&str], tweak: impl FnOnce(&mut CertificateParams)) -> Pem {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        tweak(&mut params);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// A server leaf valid for localhost, 127.0.0.1 and ::1.
    pub fn server(&self) -> Pem {
        self.leaf_with(&["localhost", "127.0.0.1", "::1"], |_| {})
    }
}

/// A self-signed certificate for localhost, trusted by nobody.
pub fn self_signed() -> Pem {
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

/// The standard test world: a server CA with a localhost leaf, and a client CA with a
/// client leaf.
pub struct Pki {
    pub ca: Ca,
    pub server: Pem,
    pub client_ca: Ca,
    pub client: Pem,
}

impl Pki {
    pub fn new() -> Pki {
        let ca = Ca::new("tlsport test root");
        let client_ca = Ca::new("tlsport test client root");
        Pki {
            server: ca.server(),
            client: client_ca.leaf_with(&["client.test"], |_| {}),
            ca,
            client_ca,
        }
    }

    /// A client policy trusting only the test root.
    pub fn client_policy(&self) -> Policy {
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .add_root_certificate(self.ca.root.clone())
    }

    /// A server policy with the localhost identity.
    pub fn server_policy(&self) -> Policy {
        Policy::new().identity(self.server.identity())
    }

    pub fn connector(&self) -> Connector {
        Connector::new(self.client_policy()).unwrap()
    }

    pub fn acceptor(&self) -> Acceptor {
        Acceptor::new(self.server_policy()).unwrap()
    }
}

pub type Side = tlsport::Result<TlsStream<DuplexStream>>;

/// Runs both handshakes over an in-memory pair; returns (client, server) results.
pub async fn handshake_pair(
    connector: &Connector,
    acceptor: &Acceptor,
    server_name: &str,
) -> (Side, Side) {
    let (c, s) = tlsport::duplex(64 * 1024);
    future::zip(connector.connect_with(server_name, c), acceptor.accept(s)).await
}

/// Both handshakes, both expected to succeed.
pub async fn connected_pair(
    connector: &Connector,
    acceptor: &Acceptor,
) -> (TlsStream<DuplexStream>, TlsStream<DuplexStream>) {
    let (c, s) = handshake_pair(connector, acceptor, "localhost").await;
    (c.expect("client handshake"), s.expect("server handshake"))
}

/// Runs `f` to completion on this thread, failing the test after `secs` seconds.
pub fn run<T>(secs: u64, f: impl Future<Output = T>) -> T {
    future::block_on(future::or(f, async {
        async_io::Timer::after(Duration::from_secs(secs)).await;
        panic!("test deadline of {secs} s passed: something hangs");
    }))
}

/// `fut`'s output, or None when `limit` passes first.
pub async fn within<T>(limit: Duration, fut: impl Future<Output = T>) -> Option<T> {
    future::or(async { Some(fut.await) }, async {
        async_io::Timer::after(limit).await;
        None
    })
    .await
}

/// `n` milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `n` seconds.
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The `tlsport::Error` inside an `io::Error` from a `TlsStream`, if TLS failed.
pub fn tls_error(e: &std::io::Error) -> Option<&tlsport::Error> {
    e.get_ref()?.downcast_ref::<tlsport::Error>()
}

/// The `tlsport::Error` an `io::Error` from the stream carries (panics if none).
pub fn carried(e: std::io::Error) -> tlsport::Error {
    let inner = e
        .into_inner()
        .expect("the io::Error carries no inner error");
    *inner
        .downcast::<tlsport::Error>()
        .expect("the io::Error does not carry a tlsport::Error")
}

/// Bytes as lower-case hex, without separators.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh folder of this process under the system's temporary folder, removed (with
/// everything in it) when dropped. Derefs to its path.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// `tlsport-TAG-PID-N`: unique within the process, and across processes.
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("tlsport-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// The path of `name` in this folder.
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }

    /// Writes `contents` to `name` in this folder; returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> std::path::PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;

    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deterministic test data of `len` bytes.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .rotate_left(seed as u32 % 32) as u8
                ^ seed
        })
        .collect()
}

/// Process CPU time (user + system) so far, from /proc/self/stat.
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the full line: 11 and 12 after the name.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

pub fn pkcs8(der: Vec<u8>) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der))
}

/// The password of every encrypted file of the OpenSSL test PKI.
pub const PASSWORD: &str = "test-password";

/// The OpenSSL-made test PKI of `tests/pki/make-pki.sh`, generated once per test binary
/// into a temporary folder (password `test-password`). Needs the `openssl` CLI and python3.
pub fn openssl_pki() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("TLSPORT_TEST_PKI") {
            return dir.into();
        }
        let dir = std::env::temp_dir().join(format!(
            "tlsport-pki-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pki/make-pki.sh");
        let out = std::process::Command::new("bash")
            .arg(script)
            .arg(&dir)
            .output()
            .expect("run make-pki.sh (needs bash, openssl, python3)");
        assert!(
            out.status.success(),
            "make-pki.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// A file of the OpenSSL test PKI.
pub fn pki_file(name: &str) -> std::path::PathBuf {
    openssl_pki().join(name)
}

/// Runs test `name` of this test binary again in a child process with `env` set, and
/// asserts that it ran alone there and passed. Returns true in the child, where the test
/// should do its real work.
///
/// For process-wide state (environment variables, cached probes) and for measurements of
/// the whole process's CPU time, which the other tests of a binary would disturb. `name`
/// is the test's full name as the harness lists it: `module::test` in `tests/it`, the
/// bare function name in a binary of its own.
pub fn in_child(name: &str, env: &[(&str, &std::ffi::OsStr)]) -> bool {
    if std::env::var_os("TLSPORT_TEST_CHILD").is_some() {
        return true;
    }
    // The harness runs each test on a thread named after it: catch a stale name here
    // (one that names another test would run that test instead, and pass).
    if let Some(running) = std::thread::current().name().filter(|n| *n != "main") {
        assert_eq!(
            running, name,
            "in_child must be given its own test's full name"
        );
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("TLSPORT_TEST_CHILD", "1")
        .env("TLSPORT_TEST_PKI", openssl_pki())
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .env_remove("SSLKEYLOGFILE")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child run of {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

/// A server identity from the OpenSSL PKI: `chain` (leaf first) and `key` file names.
pub fn openssl_identity(chain: &str, key: &str) -> Identity {
    Identity::from_pem_files(pki_file(chain), pki_file(key)).expect("OpenSSL PKI identity")
}

/// A client policy trusting the OpenSSL PKI's root.
pub fn openssl_client_policy() -> Policy {
    Policy::new()
        .ca_bundle(CaBundle::Empty)
        .add_roots_pem_file(pki_file("root-ca.pem"))
        .unwrap()
}

/// The protocol versions this build speaks (TLS 1.2 needs the `tls12` feature).
pub fn versions() -> Vec<tlsport::Version> {
    let mut all = vec![tlsport::Version::Tls13];
    if cfg!(feature = "tls12") {
        all.insert(0, tlsport::Version::Tls12);
    }
    all
}
