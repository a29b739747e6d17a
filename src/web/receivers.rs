//! The sources this instance serves, each with its compiled credentials. A source with none of
//! its own takes the secret stored in the database; when that changes (`token rotate`, run
//! anywhere), the whole set is recompiled and swapped, so a running server accepts the new
//! secret within a second or so, and a postback always meets one consistent set.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::config::Settings;
use crate::intake::auth::AuthPolicy;
use crate::intake::delivery::Source;
use crate::intake::redact::Redactor;
use crate::intake::template::{self, Setup};
use crate::storage::{Database, StorageError, settings as stored_settings};
use crate::web::startup::{PREVIOUS_SECRET_KEY, SECRET_KEY, SECRET_PARAM, stored_secrets};

/// How often a running server reads the stored secret again.
pub const SECRET_RELOAD_EVERY: Duration = Duration::from_secs(1);

/// A source with its compiled credentials.
pub struct Receiver {
    pub source: Source,
    pub policy: AuthPolicy,
    /// It checks the stored (generated) secret.
    pub stored_secret: bool,
}

/// One consistent set: the receivers and the masking rule built from all their secrets.
struct Set {
    by_name: BTreeMap<String, Arc<Receiver>>,
    redactor: Arc<Redactor>,
}

type Compiled = Arc<Set>;

/// The receivers, swapped whole when the stored secret changes.
pub struct Receivers {
    current: RwLock<Compiled>,
    configured: BTreeMap<String, Source>,
    /// The stored secrets the current set was compiled with (current first).
    secrets: Mutex<Vec<String>>,
    /// The metrics tokens, masked like the sources' secrets.
    tokens: Vec<String>,
}

/// A source with no credentials of its own (and not explicitly open) takes the stored secret,
/// so a receiver never runs open.
fn takes_stored_secret(source: &Source) -> anyhow::Result<bool> {
    let policy = AuthPolicy::from_config(&source.auth)?;
    Ok(!policy.has_credentials() && !policy.is_open())
}

/// The sources as they check credentials: the stored secrets (current first) laid in where a
/// source has none of its own.
pub fn with_stored_secret(
    configured: &BTreeMap<String, Source>,
    stored: &[String],
) -> anyhow::Result<Vec<(Source, bool)>> {
    configured
        .values()
        .map(|source| {
            let mut source = source.clone();
            let stored_secret = takes_stored_secret(&source)?;
            if stored_secret {
                source.auth.query_param = Some(SECRET_PARAM.to_owned());
                source.auth.query_values = stored.to_vec();
            }
            Ok((source, stored_secret))
        })
        .collect()
}

fn compile(
    configured: &BTreeMap<String, Source>,
    stored: &[String],
    tokens: &[String],
) -> anyhow::Result<Compiled> {
    let sources = with_stored_secret(configured, stored)?;
    // One masking rule for every source, the stored secret included.
    let redactor = Arc::new(Redactor::new(
        sources.iter().map(|(source, _)| &source.auth),
        tokens,
    ));
    let mut by_name = BTreeMap::new();
    for (mut source, stored_secret) in sources {
        source.redactor = redactor.clone();
        let policy = AuthPolicy::from_config(&source.auth)?;
        by_name.insert(
            source.name.clone(),
            Arc::new(Receiver {
                source,
                policy,
                stored_secret,
            }),
        );
    }
    Ok(Arc::new(Set { by_name, redactor }))
}

/// True when some source takes the stored secret (then it is read, and generated if missing).
pub fn need_stored_secret(settings: &Settings) -> anyhow::Result<bool> {
    for source in settings.sources.values() {
        if takes_stored_secret(source)? {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Receivers {
    /// `stored`: the stored secrets (current first); empty when no source takes them.
    /// `tokens`: the metrics bearer tokens, masked wherever a delivery is shown.
    pub fn new(
        configured: BTreeMap<String, Source>,
        stored: Vec<String>,
        tokens: Vec<String>,
    ) -> anyhow::Result<Self> {
        Ok(Receivers {
            current: RwLock::new(compile(&configured, &stored, &tokens)?),
            configured,
            secrets: Mutex::new(stored),
            tokens,
        })
    }

    fn snapshot(&self) -> Compiled {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn get(&self, name: &str) -> Option<Arc<Receiver>> {
        self.snapshot().by_name.get(name).cloned()
    }

    /// The masking rule of the current set: every secret any source accepts now.
    pub fn redactor(&self) -> Arc<Redactor> {
        self.snapshot().redactor.clone()
    }

    /// Every receiver, by name.
    pub fn all(&self) -> Vec<Arc<Receiver>> {
        self.snapshot().by_name.values().cloned().collect()
    }

    /// The source names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.snapshot().by_name.keys().cloned().collect()
    }

    /// Some source checks the stored secret (worth watching for a rotation).
    pub fn use_stored_secret(&self) -> bool {
        self.snapshot()
            .by_name
            .values()
            .any(|receiver| receiver.stored_secret)
    }

    /// Recompiles when the stored secrets differ from those in use; true when they did.
    pub fn update(&self, stored: Vec<String>) -> anyhow::Result<bool> {
        let mut secrets = self
            .secrets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *secrets == stored {
            return Ok(false);
        }
        let compiled = compile(&self.configured, &stored, &self.tokens)?;
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = compiled;
        *secrets = stored;
        Ok(true)
    }
}

/// The stored secrets as they are now (current first), without generating any.
fn read_stored(db: &Database) -> Result<Vec<String>, StorageError> {
    let mut conn = db.conn()?;
    let mut values: Vec<String> = stored_settings::get(&mut conn, SECRET_KEY)?
        .into_iter()
        .collect();
    values.extend(
        stored_settings::get(&mut conn, PREVIOUS_SECRET_KEY)?.filter(|value| !value.is_empty()),
    );
    Ok(values)
}

/// Reads the stored secret again every `SECRET_RELOAD_EVERY`, for as long as the runtime it is
/// spawned on runs: every instance on a shared database picks up a rotation within seconds.
pub fn watch_stored_secret(receivers: Arc<Receivers>, db: Database) {
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(SECRET_RELOAD_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            let reading = db.clone();
            let stored = match tokio::task::spawn_blocking(move || read_stored(&reading)).await {
                Ok(Ok(stored)) if !stored.is_empty() => stored,
                Ok(Ok(_)) => continue,
                Ok(Err(error)) => {
                    // Said once per outage: the database being down is reported elsewhere.
                    if !failing {
                        tracing::warn!(error = %error, "cannot read the stored postback secret; keeping the one in use");
                    }
                    failing = true;
                    continue;
                }
                Err(_) => continue,
            };
            failing = false;
            match receivers.update(stored) {
                Ok(true) => tracing::info!(
                    "the stored postback secret changed (token rotate); accepting the new one"
                ),
                Ok(false) => {}
                Err(error) => tracing::error!(error = %error, "the rotated secret cannot be used"),
            }
        }
    });
}

/// What to paste into impact.com for every source, as `settings` and the stored secret say
/// (read, or generated when missing), with URLs under `base`.
pub fn setups(settings: &Settings, db: &Database, base: &str) -> anyhow::Result<Vec<Setup>> {
    let stored = if need_stored_secret(settings)? {
        stored_secrets(db)?.0
    } else {
        Vec::new()
    };
    Ok(with_stored_secret(&settings.sources, &stored)?
        .iter()
        .map(|(source, _)| {
            template::for_source(
                source,
                base,
                &settings.responses.success,
                &settings.responses.error,
            )
        })
        .collect())
}
