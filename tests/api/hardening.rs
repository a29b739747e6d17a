//! Hostile input: random bytes, queries and mangled fixtures get a defined answer, never a 500,
//! and leave nothing half-written.

use rand::{Rng, SeedableRng};

use crate::helpers::*;
use crate::on_both_backends;

const JSON: &str = include_str!("../fixtures/action_modified.json");
const XML: &str = include_str!("../fixtures/action_modified.xml");

const PUNCTUATION: &[u8] = b"{}[]\",:<>/&=%\\";

const QUERY_CHARS: &[u8] = b"aAzZ09=&%+{}.-_ ";

fn mangle(rng: &mut impl Rng, text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..rng.random_range(1..12) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.random_range(0..bytes.len());
        match rng.random_range(0..4) {
            0 => bytes[at] = rng.random(),
            1 => {
                bytes.remove(at);
            }
            2 => bytes.insert(at, PUNCTUATION[rng.random_range(0..PUNCTUATION.len())]),
            _ => bytes.truncate(at),
        }
    }
    bytes
}

/// Rounds of the fuzz test (two requests each): 150, or `$FUZZ_ROUNDS` for a longer run, e.g.
/// `FUZZ_ROUNDS=20000 cargo test --test api -- hardening::random --nocapture`.
fn fuzz_rounds() -> usize {
    std::env::var("FUZZ_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(150)
}

on_both_backends! {
    async fn random_and_mangled_requests_get_defined_answers_and_check_still_passes(backend: Backend) {
        let app = spawn_app(backend).await;
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let content_types = [None, Some("application/json"), Some("application/xml"), Some("application/x-www-form-urlencoded"), Some("text/plain"), Some("multipart/form-data")];
        let rounds = fuzz_rounds();
        let started = std::time::Instant::now();
        for round in 0..rounds {
            let body: Vec<u8> = match round % 3 {
                0 => (0..rng.random_range(0..400)).map(|_| rng.random()).collect(),
                1 => mangle(&mut rng, JSON),
                _ => mangle(&mut rng, XML),
            };
            let content_type = content_types[rng.random_range(0..content_types.len())];
            let answer = app.post_postback("actions", content_type, body).await;
            assert!(matches!(answer.status, 200 | 400 | 413), "round {round}: {answer:?}");
            let query: String = (0..rng.random_range(0..60))
                .map(|_| QUERY_CHARS[rng.random_range(0..QUERY_CHARS.len())] as char)
                .collect();
            let answer = app.get_postback("actions", &query).await;
            assert!(matches!(answer.status, 200 | 400), "query {query:?}: {answer:?}");
        }
        eprintln!(
            "fuzz on {backend:?}: {} requests in {:.1?}, none answered 500",
            rounds * 2,
            started.elapsed()
        );
        let output = app.cli(&["check"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    }
}

#[actix_web::test]
async fn a_long_url_is_414_and_large_headers_are_431() {
    let app = spawn_app(Backend::Sqlite).await;
    let long = format!("ActionId=L&pad={}", "a".repeat(9_000));
    assert_eq!(app.get_postback("actions", &long).await.status, 414);
    let response = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("X-Big", "b".repeat(20_000))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
}

#[actix_web::test]
async fn a_stalled_client_is_dropped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(Backend::Sqlite).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // The head never ends; the server gives up after its request timeout.
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut buffer),
    )
    .await;
    assert!(
        read.is_ok(),
        "the server kept a stalled connection open for 10 s"
    );
}
