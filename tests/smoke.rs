mod common;
use common::*;
use futures_lite::{AsyncReadExt, AsyncWriteExt};

#[test]
fn echo_over_duplex() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(20, async {
        let (mut c, mut s) = connected_pair(&connector, &acceptor).await;
        c.write_all(b"hello").await.unwrap();
        c.flush().await.unwrap();
        let mut buf = [0; 5];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        println!("{:?}", c.info());
        println!("{:?}", s.info());
    });
}
