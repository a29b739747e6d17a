//! The load generator's HTTP client: one kept-alive HTTP/1.1 connection per sender on hyper's
//! connection API. The generator shares the two cores with the server, so it should cost what
//! `wrk` or `oha` would: no pool to look up, no redirect or timeout machinery, no URL to build
//! and parse again per request beyond the request line itself.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::workload::{Answer, Method, Request};

/// What the server gets to answer one request (reqwest's timeout before this client).
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// One sender's connection, opened on first use and again after the server closed it.
pub struct Connection {
    /// `host:port`, for connecting and for the `Host` header.
    authority: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    /// `base` is the server's `http://host:port`.
    pub fn new(base: &str) -> Connection {
        Connection {
            authority: base.trim_start_matches("http://").to_owned(),
            sender: None,
        }
    }

    /// Sends a workload request to the postback route with `secret`.
    pub async fn postback(&mut self, secret: &str, request: &Request) -> Result<Answer, String> {
        let builder = hyper::Request::builder().header(HOST, self.authority.as_str());
        let request = match request.method {
            Method::Get => builder
                .uri(format!(
                    "/postbacks/actions?secure={secret}&{}",
                    request.payload
                ))
                .body(Full::default()),
            Method::PostJson => builder
                .method("POST")
                .uri(format!("/postbacks/actions?secure={secret}"))
                .header(CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(request.payload.clone()))),
        }
        .map_err(|error| format!("building a request: {error}"))?;
        Ok(self.send(request).await?.0)
    }

    /// GET `path`: the answer's status and body.
    pub async fn get(&mut self, path: &str) -> Result<(u16, Bytes), String> {
        let request = hyper::Request::builder()
            .header(HOST, self.authority.as_str())
            .uri(path)
            .body(Full::default())
            .map_err(|error| format!("building a request: {error}"))?;
        let (answer, body) = self.send(request).await?;
        Ok((answer.status, body))
    }

    async fn send(
        &mut self,
        request: hyper::Request<Full<Bytes>>,
    ) -> Result<(Answer, Bytes), String> {
        let usable = match &mut self.sender {
            Some(sender) => sender.ready().await.is_ok(),
            None => false,
        };
        if !usable {
            self.sender = Some(connect(&self.authority).await?);
        }
        let sender = self.sender.as_mut().expect("connected above");
        let response = match tokio::time::timeout(TIMEOUT, sender.send_request(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => {
                self.sender = None;
                return Err(format!("sending: {error}"));
            }
            Err(_) => {
                self.sender = None;
                return Err(format!("no answer within {TIMEOUT:?}"));
            }
        };
        let answer = Answer::of(response.status().as_u16(), response.headers());
        // Read the body to the end, so the connection can carry the next request.
        match response.into_body().collect().await {
            Ok(body) => Ok((answer, body.to_bytes())),
            Err(error) => {
                self.sender = None;
                Err(format!("reading the answer: {error}"))
            }
        }
    }
}

async fn connect(authority: &str) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(authority)
        .await
        .map_err(|error| format!("connecting to {authority}: {error}"))?;
    stream
        .set_nodelay(true)
        .map_err(|error| format!("TCP_NODELAY: {error}"))?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| format!("HTTP handshake: {error}"))?;
    // Drives the connection until the sender is dropped or the server closes it.
    tokio::spawn(connection);
    Ok(sender)
}
