//! Sends alert messages to `[alerts] webhook_url` as `{"text": "…"}` (what a Slack incoming
//! webhook takes), one at a time and in order, retrying with a doubling delay. Sending never
//! waits: the messages queue for a task of their own.

use std::time::Duration;

use tokio::sync::mpsc;

/// Messages waiting beyond this are dropped (counted and logged), so a dead webhook cannot
/// hold memory.
const QUEUE: usize = 256;
/// Tries per message: the delays 1 s, 2 s, 4 s … (at most `MAX_DELAY`) add up to about 8 min.
const ATTEMPTS: u32 = 10;
const FIRST_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub struct Webhook {
    queue: mpsc::Sender<String>,
}

impl Webhook {
    /// Starts the sender on the runtime it is called from. The URL is never logged: a
    /// webhook's URL is its credential.
    pub fn start(url: String) -> Webhook {
        let (queue, mut waiting) = mpsc::channel::<String>(QUEUE);
        actix_web::rt::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default();
            while let Some(text) = waiting.recv().await {
                deliver(&client, &url, &text).await;
            }
        });
        Webhook { queue }
    }

    /// Queues a message; returns at once.
    pub fn send(&self, text: String) {
        if self.queue.try_send(text).is_err() {
            crate::telemetry::metrics::alert_webhook("dropped");
            tracing::warn!("the alert webhook's queue is full; a message was dropped");
        }
    }
}

async fn deliver(client: &reqwest::Client, url: &str, text: &str) {
    let body = serde_json::json!({ "text": text });
    let mut delay = FIRST_DELAY;
    for attempt in 1..=ATTEMPTS {
        let problem = match client.post(url).json(&body).send().await {
            Ok(response) if response.status().is_success() => {
                crate::telemetry::metrics::alert_webhook("sent");
                return;
            }
            Ok(response) => format!("answered {}", response.status()),
            Err(error) => error.without_url().to_string(),
        };
        crate::telemetry::metrics::alert_webhook("failed");
        tracing::warn!(attempt, problem = %problem, "the alert webhook did not take a message");
        if attempt < ATTEMPTS {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_DELAY);
        }
    }
    crate::telemetry::metrics::alert_webhook("gave_up");
    tracing::error!(
        attempts = ATTEMPTS,
        "gave up sending an alert to the webhook"
    );
}
