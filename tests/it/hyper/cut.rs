//! A response cut short: an error, never a truncated body reported as complete.

use super::*;

/// How the raw server ends its response.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// close_notify, then FIN.
    Clean,
    /// A FIN without close_notify: truncation.
    Cut,
}

/// A TLS server that answers one request with `head` and `body`, then ends as told.
fn raw_server(pki: &Pki, head: &'static str, body: &'static [u8], ending: Ending) -> SocketAddr {
    let acceptor = pki.acceptor();
    let listener = smol::block_on(async_net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    smol::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(tcp).await.unwrap();
        read_head(&mut tls).await.unwrap();
        tls.write_all(head.as_bytes()).await.unwrap();
        tls.write_all(body).await.unwrap();
        tls.flush().await.unwrap();
        match ending {
            Ending::Clean => tls.close().await.unwrap(),
            Ending::Cut => {
                let mut tcp = tls.into_inner();
                tcp.close().await.unwrap();
            }
        }
    })
    .detach();
    addr
}

/// GETs from a raw server: the response head must arrive; returns the body's result.
fn body_of(head: &'static str, body: &'static [u8], ending: Ending) -> Result<Bytes, BoxError> {
    body_with(tlsport::EofPolicy::Strict, head, body, ending)
}

/// [`body_of`] with a client under `eof`.
fn body_with(
    eof: tlsport::EofPolicy,
    head: &'static str,
    body: &'static [u8],
    ending: Ending,
) -> Result<Bytes, BoxError> {
    let pki = Pki::new();
    let addr = raw_server(&pki, head, body, ending);
    let client = client(connector(pki.client_policy().eof(eof)));
    let uri: hyper::Uri = format!("https://localhost:{}/", addr.port())
        .parse()
        .unwrap();
    run(30, async {
        let response = client.get(uri).await.expect("the response head");
        assert_eq!(response.status(), StatusCode::OK);
        Ok(response.into_body().collect().await?.to_bytes())
    })
}

/// Whether `err`'s chain has an `io::Error` of kind UnexpectedEof (tlsport's truncation).
fn is_truncation(err: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(err) = next {
        if err
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::UnexpectedEof)
        {
            return true;
        }
        next = err.source();
    }
    false
}

const EOF_DELIMITED: &str = "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n";
const LENGTH_10000: &str = "HTTP/1.1 200 OK\r\ncontent-length: 10000\r\n\r\n";

#[test]
fn a_body_delimited_by_eof_and_cut_without_close_notify_is_an_error() {
    // HTTP alone cannot tell this body is short: only TLS's close_notify can.
    let err = body_of(EOF_DELIMITED, b"the first half of a", Ending::Cut).unwrap_err();
    assert!(is_truncation(&*err), "{}", chain(&*err));
}

#[test]
fn allow_ragged_takes_the_cut_body_for_complete() {
    // The hazard the default guards against, shown: under AllowRagged the same cut looks
    // like the end of the body.
    let body = body_with(
        tlsport::EofPolicy::AllowRagged,
        EOF_DELIMITED,
        b"the first half of a",
        Ending::Cut,
    )
    .unwrap();
    assert_eq!(body, "the first half of a");
}

#[test]
fn a_body_delimited_by_eof_and_ended_with_close_notify_is_complete() {
    let body = body_of(EOF_DELIMITED, b"all of it", Ending::Clean).unwrap();
    assert_eq!(body, "all of it");
}

#[test]
fn a_body_shorter_than_its_content_length_is_an_error_however_it_ends() {
    for ending in [Ending::Cut, Ending::Clean] {
        let result = body_of(LENGTH_10000, &[b'x'; 4000], ending);
        assert!(
            result.is_err(),
            "{ending:?}: a short body reported complete"
        );
    }
}
