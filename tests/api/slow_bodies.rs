//! A body is read under a time limit for the whole of it, and only once the source and the
//! credentials outside the body have passed: a stranger's slow body is never waited for.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Sends a request head promising `length` bytes of body, then one byte of it every `every`,
/// until the server answers or closes (or 5 s have passed); returns what it answered (the
/// status line) and how long it took from the head.
async fn trickle(app: &TestApp, path: &str, length: usize, every: Duration) -> (String, Duration) {
    let mut stream = connect(app).await;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    // Never more than 5 s: long enough to see a server that waits for the body.
    while started.elapsed() < Duration::from_secs(5) {
        match tokio::time::timeout(every, stream.read(&mut buffer)).await {
            // The server answered (or closed): done.
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(read)) => {
                answer.extend_from_slice(&buffer[..read]);
                break;
            }
            Err(_) => {
                if stream.write_all(b" ").await.is_err() {
                    break;
                }
            }
        }
    }
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&answer).into_owned();
    (text.lines().next().unwrap_or_default().to_owned(), elapsed)
}

#[actix_web::test]
async fn a_body_that_trickles_in_is_cut_off_at_the_time_limit() {
    let config = format!("body_timeout_seconds = 1\n{}", base_config());
    let app = spawn_app_with(Backend::Sqlite, &config).await;
    let (status, elapsed) = trickle(
        &app,
        &format!("/postbacks/actions?secure={SECRET}"),
        100,
        Duration::from_millis(200),
    )
    .await;
    assert!(status.contains("408"), "{status:?} after {elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(app.db.scalar("SELECT COUNT(*) AS value FROM deliveries"), 0);
}

#[actix_web::test]
async fn a_strangers_slow_body_is_refused_before_it_is_read() {
    let app = spawn_app(Backend::Sqlite).await;
    for path in [
        "/postbacks/actions?secure=wrong&ActionId=X".to_owned(),
        "/postbacks/actions?ActionId=X".to_owned(),
        "/postbacks/nowhere?ActionId=X".to_owned(),
    ] {
        // The body would take 50 s; the answer comes without waiting for a byte of it.
        let (status, elapsed) = trickle(&app, &path, 100, Duration::from_millis(500)).await;
        assert!(
            status.contains("401") || status.contains("404"),
            "{path}: {status:?}"
        );
        assert!(elapsed < Duration::from_secs(2), "{path}: {elapsed:?}");
    }
    // A body larger than the limit is refused from its Content-Length, unread.
    let (status, elapsed) = trickle(
        &app,
        &format!("/postbacks/actions?secure={SECRET}"),
        10 * 1024 * 1024,
        Duration::from_millis(500),
    )
    .await;
    assert!(status.contains("413"), "{status:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[actix_web::test]
async fn a_body_within_the_limits_is_read_as_before() {
    let config = format!("body_timeout_seconds = 2\n{}", base_config());
    let app = spawn_app_with(Backend::Sqlite, &config).await;
    let body = r#"{"ActionId":"SB1","Payout":"1.00"}"#;
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /postbacks/actions?secure={SECRET} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // In two parts, a little apart: slow, but within the limit.
    let (first, second) = body.split_at(10);
    stream.write_all(first.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(second.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(app.action("SB1").await.unwrap()["payout"], "1.00");
}
