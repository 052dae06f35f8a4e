//! One TLS connection driven from two tasks: `TlsStream::split` gives a `ReadHalf` and a
//! `WriteHalf` that run on different threads of a multi-threaded executor at once.
//!
//! The server is a line chat: one task reads the client's lines, another answers them,
//! with a channel in between. The client talks in three phases:
//!
//! 1. split: a writer task sends lines while a reader task prints the answers;
//! 2. `reunite`: both halves come back and make the `TlsStream` again;
//! 3. split again, and half-close: the writer sends a last line and calls
//!    `WriteHalf::close()`, which sends `close_notify` (and a TCP FIN) while the reader
//!    keeps reading. The server sees the end of the client's data, says goodbye, and
//!    closes its side; only then does the client's reader reach the end.
//!
//! Run it with `cargo run --example split`. It needs no arguments, files or network.

mod support;

use std::time::Duration;

use async_io::Timer;
use futures::channel::mpsc;
use futures::executor::{ThreadPool, block_on};
use futures::task::SpawnExt;
use futures_lite::StreamExt;
use futures_lite::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use support::{BoxError, Pki, describe};
use tlsport::{Acceptor, CaBundle, Connector, Policy, ReadHalf, TcpStream, TlsStream, WriteHalf};

fn main() -> Result<(), BoxError> {
    let pki = Pki::new()?;
    let acceptor = Acceptor::new(Policy::new().identity(pki.server.clone()))?;
    let connector = Connector::new(
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .add_root_certificate(pki.root.clone()),
    )?;
    // Four worker threads: the halves of one connection really run in parallel.
    let pool = ThreadPool::builder()
        .pool_size(4)
        .name_prefix("worker-")
        .create()?;

    block_on(async {
        let listener = acceptor.bind("127.0.0.1", 0).await?;
        let port = listener.local_addr()?.port();
        let server_pool = pool.clone();
        let server = pool.spawn_with_handle(async move {
            let (stream, _peer) = listener.accept().await?;
            chat_server(stream, &server_pool).await
        })?;

        let stream = connector.connect("127.0.0.1", port).await?;
        println!("client: {}", describe(&stream.info()));
        chat_client(stream, &pool).await?;
        server.await
    })
}

async fn chat_client(stream: TlsStream<TcpStream>, pool: &ThreadPool) -> Result<(), BoxError> {
    // Phase 1: a writer task and a reader task on the same connection.
    let (read, write) = stream.split();
    let writer = pool.spawn_with_handle(async move {
        let mut write: WriteHalf<TcpStream> = write;
        for text in ["hello", "how are you?", "fine, thanks"] {
            say(&mut write, text).await?;
            Timer::after(Duration::from_millis(20)).await;
        }
        Ok::<_, std::io::Error>(write) // hand the half back
    })?;
    let reader = pool.spawn_with_handle(async move {
        let mut read = BufReader::new(read);
        for _ in 0..3 {
            let mut line = String::new();
            read.read_line(&mut line).await?;
            print!("[{}] client read: {line}", thread());
        }
        // Each line is answered once, so nothing can be buffered here yet.
        assert!(read.buffer().is_empty());
        Ok::<_, std::io::Error>(read.into_inner())
    })?;
    let (write, read): (WriteHalf<_>, ReadHalf<_>) = (writer.await?, reader.await?);

    // Phase 2: the halves come back together. `reunite` checks that they are a pair (it
    // gives both back in a `ReuniteError` when they are not).
    assert!(read.is_pair_of(&write));
    let stream = read.reunite(write)?;
    println!("client: reunited: {}", describe(&stream.info()));

    // Phase 3: split again; this time the writer half-closes.
    let (read, write) = stream.split();
    let writer = pool.spawn_with_handle(async move {
        let mut write = write;
        say(&mut write, "bye").await?;
        // close_notify and a FIN: the server sees the end of our data. Our read half
        // keeps working.
        write.close().await?;
        println!("[{}] client: write half closed", thread());
        Ok::<_, std::io::Error>(())
    })?;
    let reader = pool.spawn_with_handle(async move {
        let mut lines = BufReader::new(read).lines();
        // Ends at the server's close_notify, which comes after ours.
        while let Some(line) = lines.next().await {
            println!("[{}] client read: {}", thread(), line?);
        }
        println!("[{}] client: the server closed its side", thread());
        Ok::<_, std::io::Error>(())
    })?;
    writer.await?;
    reader.await?;
    Ok(())
}

/// The server: a reader task feeds the client's lines through a channel to a writer
/// task, which answers each; when the client closes its side, the writer says goodbye
/// and closes the server's side.
async fn chat_server(stream: TlsStream<TcpStream>, pool: &ThreadPool) -> Result<(), BoxError> {
    let (read, mut write) = stream.split();
    let (lines_tx, mut lines_rx) = mpsc::unbounded::<String>();
    let reader = pool.spawn_with_handle(async move {
        let mut lines = BufReader::new(read).lines();
        while let Some(line) = lines.next().await {
            // A closed channel means the writer failed; it reports why.
            let _ = lines_tx.unbounded_send(line?);
        }
        // The client's close_notify. Dropping `lines_tx` tells the writer.
        Ok::<_, std::io::Error>(())
    })?;
    let writer = pool.spawn_with_handle(async move {
        let mut count = 0;
        while let Some(line) = lines_rx.next().await {
            count += 1;
            let answer = format!("server got #{count}: {line}\n");
            write.write_all(answer.as_bytes()).await?;
        }
        let goodbye = format!("server: you sent {count} lines and closed; goodbye\n");
        write.write_all(goodbye.as_bytes()).await?;
        write.close().await?;
        Ok::<_, std::io::Error>(())
    })?;
    reader.await?;
    writer.await?;
    Ok(())
}

async fn say(write: &mut WriteHalf<TcpStream>, text: &str) -> std::io::Result<()> {
    println!("[{}] client says: {text}", thread());
    write.write_all(format!("{text}\n").as_bytes()).await
}

/// The name of the worker thread running the caller.
fn thread() -> String {
    std::thread::current().name().unwrap_or("main").to_owned()
}
