//! What an error from `accept(2)` means for a [`Listener`](super::Listener): skip one
//! connection, wait and retry, or give up on the listening socket.

use std::io;

/// What an error from `accept(2)` means for the listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AcceptError {
    /// No connection is waiting.
    WouldBlock,
    /// One connection failed before we took it (reset, aborted, a network error that
    /// Linux passes on from the new socket, refused by a firewall): skip it.
    PerConnection,
    /// Too many open files (process or system), no buffers, no memory: wait and retry.
    ResourceShortage,
    /// The listening socket itself failed.
    Listener,
}

/// Classifies an error from `accept(2)`.
pub(super) fn classify(e: &io::Error) -> AcceptError {
    use io::ErrorKind as K;
    match e.kind() {
        K::WouldBlock => return AcceptError::WouldBlock,
        K::ConnectionAborted
        | K::ConnectionReset
        | K::ConnectionRefused
        | K::Interrupted
        | K::TimedOut
        // EPERM: firewall rules forbid the connection.
        | K::PermissionDenied
        | K::NetworkDown
        | K::NetworkUnreachable
        | K::HostUnreachable => return AcceptError::PerConnection,
        K::OutOfMemory => return AcceptError::ResourceShortage,
        _ => {}
    }
    match e.raw_os_error() {
        Some(code) if errno::PER_CONNECTION.contains(&code) => AcceptError::PerConnection,
        Some(code) if errno::RESOURCE_SHORTAGE.contains(&code) => AcceptError::ResourceShortage,
        _ => AcceptError::Listener,
    }
}

/// The error numbers `classify` needs that have no [`io::ErrorKind`], for each platform
/// (without the libc crate, which not every build of this crate has).
mod errno {
    /// Linux's accept(2): "For reliable operation the application should detect the
    /// network errors defined for the protocol after accept() and treat them like EAGAIN
    /// by retrying. In the case of TCP/IP, these are ENETDOWN, EPROTO, ENOPROTOOPT,
    /// EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, and ENETUNREACH." The three with an
    /// `io::ErrorKind` are matched by kind.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(super) const PER_CONNECTION: &[i32] = &[EPROTO, ENOPROTOOPT, EHOSTDOWN, ENONET, EOPNOTSUPP];
    /// Solaris and illumos: accept(3SOCKET) reports EPROTO for a connection already
    /// released.
    #[cfg(any(target_os = "solaris", target_os = "illumos"))]
    pub(super) const PER_CONNECTION: &[i32] = &[71];
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "solaris",
        target_os = "illumos"
    )))]
    pub(super) const PER_CONNECTION: &[i32] = &[];

    /// ENFILE, EMFILE and ENOBUFS.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(super) const RESOURCE_SHORTAGE: &[i32] = &[23, 24, ENOBUFS];
    #[cfg(any(
        target_vendor = "apple",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    pub(super) const RESOURCE_SHORTAGE: &[i32] = &[23, 24, 55];
    #[cfg(any(target_os = "solaris", target_os = "illumos"))]
    pub(super) const RESOURCE_SHORTAGE: &[i32] = &[23, 24, 132];
    /// WSAEMFILE and WSAENOBUFS.
    #[cfg(windows)]
    pub(super) const RESOURCE_SHORTAGE: &[i32] = &[10024, 10055];
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_vendor = "apple",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "solaris",
        target_os = "illumos",
        windows
    )))]
    pub(super) const RESOURCE_SHORTAGE: &[i32] = &[];

    #[cfg(any(target_os = "linux", target_os = "android"))]
    use linux::*;

    /// Linux numbers differ by architecture: most follow asm-generic; MIPS and SPARC
    /// have their own.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    mod linux {
        #[cfg(not(any(
            target_arch = "mips",
            target_arch = "mips64",
            target_arch = "mips32r6",
            target_arch = "mips64r6",
            target_arch = "sparc",
            target_arch = "sparc64"
        )))]
        mod arch {
            pub(crate) const EPROTO: i32 = 71;
            pub(crate) const ENOPROTOOPT: i32 = 92;
            pub(crate) const EHOSTDOWN: i32 = 112;
            pub(crate) const ENONET: i32 = 64;
            pub(crate) const EOPNOTSUPP: i32 = 95;
            pub(crate) const ENOBUFS: i32 = 105;
        }
        #[cfg(any(
            target_arch = "mips",
            target_arch = "mips64",
            target_arch = "mips32r6",
            target_arch = "mips64r6"
        ))]
        mod arch {
            pub(crate) const EPROTO: i32 = 71;
            pub(crate) const ENOPROTOOPT: i32 = 99;
            pub(crate) const EHOSTDOWN: i32 = 147;
            pub(crate) const ENONET: i32 = 64;
            pub(crate) const EOPNOTSUPP: i32 = 122;
            pub(crate) const ENOBUFS: i32 = 132;
        }
        #[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
        mod arch {
            pub(crate) const EPROTO: i32 = 86;
            pub(crate) const ENOPROTOOPT: i32 = 42;
            pub(crate) const EHOSTDOWN: i32 = 64;
            pub(crate) const ENONET: i32 = 80;
            pub(crate) const EOPNOTSUPP: i32 = 45;
            pub(crate) const ENOBUFS: i32 = 55;
        }
        pub(super) use arch::*;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(code: i32) -> AcceptError {
        classify(&io::Error::from_raw_os_error(code))
    }

    #[test]
    fn accept_errors_by_kind() {
        use io::ErrorKind as K;
        for kind in [
            K::ConnectionAborted,
            K::ConnectionReset,
            K::Interrupted,
            K::TimedOut,
            K::PermissionDenied,
            K::NetworkDown,
            K::NetworkUnreachable,
            K::HostUnreachable,
        ] {
            assert_eq!(
                classify(&io::Error::from(kind)),
                AcceptError::PerConnection,
                "{kind:?}"
            );
        }
        assert_eq!(
            classify(&io::Error::from(K::WouldBlock)),
            AcceptError::WouldBlock
        );
        assert_eq!(
            classify(&io::Error::from(K::OutOfMemory)),
            AcceptError::ResourceShortage
        );
        for kind in [K::InvalidInput, K::NotConnected, K::Other, K::Unsupported] {
            assert_eq!(
                classify(&io::Error::from(kind)),
                AcceptError::Listener,
                "{kind:?}"
            );
        }
    }

    /// The numbers accept(2) returns on Linux (x86, ARM, RISC-V, ...), as the system
    /// reports them.
    #[cfg(all(
        target_os = "linux",
        any(
            target_arch = "x86_64",
            target_arch = "x86",
            target_arch = "aarch64",
            target_arch = "arm",
            target_arch = "riscv64"
        )
    ))]
    #[test]
    fn accept_errors_from_linux() {
        // EAGAIN
        assert_eq!(os(11), AcceptError::WouldBlock);
        // ECONNABORTED, EPERM, EINTR, ETIMEDOUT, ECONNRESET, and the network errors the
        // man page says to treat like EAGAIN: ENETDOWN, EPROTO, ENOPROTOOPT, EHOSTDOWN,
        // ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH.
        for code in [103, 1, 4, 110, 104, 100, 71, 92, 112, 64, 113, 95, 101] {
            assert_eq!(os(code), AcceptError::PerConnection, "errno {code}");
        }
        // ENFILE, EMFILE, ENOBUFS, ENOMEM.
        for code in [23, 24, 105, 12] {
            assert_eq!(os(code), AcceptError::ResourceShortage, "errno {code}");
        }
        // EBADF, EINVAL (not listening), ENOTSOCK, EFAULT: the listening socket.
        for code in [9, 22, 88, 14] {
            assert_eq!(os(code), AcceptError::Listener, "errno {code}");
        }
    }

    #[cfg(target_vendor = "apple")]
    #[test]
    fn accept_errors_from_macos() {
        assert_eq!(os(35), AcceptError::WouldBlock); // EAGAIN
        assert_eq!(os(53), AcceptError::PerConnection); // ECONNABORTED
        for code in [23, 24, 55, 12] {
            assert_eq!(os(code), AcceptError::ResourceShortage, "errno {code}");
        }
        assert_eq!(os(22), AcceptError::Listener); // EINVAL
    }

    #[cfg(windows)]
    #[test]
    fn accept_errors_from_windows() {
        assert_eq!(os(10035), AcceptError::WouldBlock); // WSAEWOULDBLOCK
        assert_eq!(os(10054), AcceptError::PerConnection); // WSAECONNRESET
        for code in [10024, 10055] {
            assert_eq!(os(code), AcceptError::ResourceShortage, "WSA error {code}");
        }
        assert_eq!(os(10022), AcceptError::Listener); // WSAEINVAL
    }
}
