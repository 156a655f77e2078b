//! The edge under a hostile client, with raw sockets against a `settle serve` of the test's own: request headers
//! that never finish are cut off, idle connections by the thousand do not stop a real request, and a connection
//! over the cap is closed at once instead of waiting forever.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::*;

/// The process's open-file limit (Linux), to size the test's own sockets.
fn open_file_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| t.lines().find(|l| l.starts_with("Max open files")).and_then(|l| l.split_whitespace().nth(3)?.parse().ok()))
        .unwrap_or(1024)
}

/// Reads until the server closes the connection; the bytes it sent, or None when it is still open after `limit`.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

async fn get_live(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /health/live HTTP/1.1\r\nHost: settle\r\nConnection: close\r\n\r\n").await.unwrap();
    let got = closed_within(&mut s, Duration::from_secs(30)).await.expect("answered and closed");
    String::from_utf8_lossy(&got).into_owned()
}

fn serve(dir: &TempDir, env: &[(&str, String)]) -> (Process, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut env = env.to_vec();
    env.push(("SETTLE_LISTEN", format!("127.0.0.1:{port}")));
    (Process::start(dir, &["serve", "--demo"], &env, "Settle listening on"), format!("127.0.0.1:{port}"))
}

/// A client that starts its request headers and never finishes them is cut off after SETTLE_HEADER_TIMEOUT_SECS
/// (it was held for good before); a keep-alive connection left idle goes the same way; thousands of idle
/// connections do not stop a real request from being served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_headers_are_cut_off_and_idle_connections_do_not_stop_a_real_request() {
    let dir = TempDir::new();
    let (_short, addr) = serve(&dir, &[("SETTLE_HEADER_TIMEOUT_SECS", "2".to_owned())]);
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /health/live HTTP/1.1\r\nHost: settle\r\nX-Slow: ").await.unwrap();
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    // A keep-alive connection that served one request and then says nothing more.
    let mut kept = TcpStream::connect(&addr).await.unwrap();
    kept.write_all(b"GET /health/live HTTP/1.1\r\nHost: settle\r\n\r\n").await.unwrap();
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    for (what, s) in [("unfinished headers", &mut slow), ("no request at all", &mut idle), ("an idle keep-alive connection", &mut kept)] {
        assert!(closed_within(s, Duration::from_secs(30)).await.is_some(), "{what}: still held after 30 s");
    }

    // Thousands of idle sockets (as many as this process may open, up to 10,000), all held by a Settle whose
    // header timeout outlasts them, then a real request.
    let dir = TempDir::new();
    let (_settle, addr) = serve(&dir, &[("SETTLE_HEADER_TIMEOUT_SECS", "300".to_owned())]);
    let n = 10_000.min(open_file_limit().saturating_sub(500));
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(TcpStream::connect(&addr).await.expect("an idle connection"));
    }
    let answer = get_live(&addr).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "with {n} idle connections open: {answer}");
    eprintln!("edge: a request was served with {n} idle connections open");
    drop(held);
}

/// Over SETTLE_MAX_CONNECTIONS a connection is closed as soon as it is accepted (refused, not queued forever);
/// once connections go, new ones are served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_over_the_cap_is_closed_at_once() {
    let dir = TempDir::new();
    let (_settle, addr) = serve(&dir, &[("SETTLE_MAX_CONNECTIONS", "20".to_owned()), ("SETTLE_HEADER_TIMEOUT_SECS", "60".to_owned())]);
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    // The server accepts the held ones first (in order); give it a positive signal that it has: one over the cap
    // is closed without an answer.
    let mut last = None;
    let refused = within(Duration::from_secs(30), async || {
        let mut over = TcpStream::connect(&addr).await.unwrap();
        let _ = over.write_all(b"GET /health/live HTTP/1.1\r\nHost: settle\r\n\r\n").await;
        last = closed_within(&mut over, Duration::from_secs(10)).await;
        last.as_ref().is_some_and(|bytes| bytes.is_empty()).then_some(())
    })
    .await;
    assert!(refused.is_some(), "a connection over the cap was not refused: {last:?}");
    drop(held);
    eventually(Duration::from_secs(30), "served again once the idle connections went", async || {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /health/live HTTP/1.1\r\nHost: settle\r\nConnection: close\r\n\r\n").await.unwrap();
        let got = closed_within(&mut s, Duration::from_secs(10)).await.unwrap_or_default();
        got.starts_with(b"HTTP/1.1 200").then_some(())
    })
    .await;
}
