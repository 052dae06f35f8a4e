//! `hyper::rt::Read` on `TlsStream`: `ReadBufCursor` filled without `unsafe`.

use super::*;

/// Reads `tls` to its end through `hyper::rt::Read`, with cursors of varying sizes.
async fn read_all_through_cursors<S>(tls: &mut TlsStream<S>) -> (Vec<u8>, io::Result<()>)
where
    S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin,
{
    let sizes = [1, 2, 3, 7, 100, 5000, 16 * 1024 + 1, 64 * 1024];
    let mut all = Vec::new();
    for round in 0.. {
        let mut backing = vec![0; sizes[round % sizes.len()]];
        let mut buf = hyper::rt::ReadBuf::new(&mut backing);
        let read = std::future::poll_fn(|cx| {
            hyper::rt::Read::poll_read(std::pin::Pin::new(&mut *tls), cx, buf.unfilled())
        })
        .await;
        if let Err(e) = read {
            return (all, Err(e));
        }
        if buf.filled().is_empty() {
            break;
        }
        all.extend_from_slice(buf.filled());
    }
    (all, Ok(()))
}

#[test]
fn hyper_read_on_tlsstream_is_byte_exact_with_any_cursor_size() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    let data = common::pattern(300 * 1024, 3);
    run(30, async {
        let (mut client, mut server) = common::connected_pair(&connector, &acceptor).await;
        let write = async {
            // Records of many sizes, several in flight at once.
            for chunk in data.chunks(20_000) {
                server.write_all(&chunk[..chunk.len() / 3]).await.unwrap();
                server.write_all(&chunk[chunk.len() / 3..]).await.unwrap();
            }
            server.close().await.unwrap();
        };
        let ((), (read, end)) =
            futures_lite::future::zip(write, read_all_through_cursors(&mut client)).await;
        end.unwrap();
        assert!(
            read == data,
            "{} bytes read, {} sent",
            read.len(),
            data.len()
        );
    });
}

#[test]
fn hyper_read_on_tlsstream_reports_truncation_after_the_data() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(30, async {
        let (mut client, mut server) = common::connected_pair(&connector, &acceptor).await;
        server.write_all(&common::pattern(50_000, 4)).await.unwrap();
        server.flush().await.unwrap();
        drop(server.into_inner()); // EOF without close_notify
        let (read, end) = read_all_through_cursors(&mut client).await;
        assert!(
            read == common::pattern(50_000, 4),
            "the data before the cut differs"
        );
        assert_eq!(end.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    });
}
