//! The command line: what each subcommand does, from parsing arguments to the exit code.

pub mod cross_check;
pub mod send_test;
pub mod setup;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, Settings};
use crate::storage::{Database, check, settings as stored_settings, to_db_time};
use crate::telemetry::{self, LogFormat};
use crate::web::receivers;
use crate::web::startup::{self, Application, PREVIOUS_SECRET_KEY, SECRET_KEY};

#[derive(Debug, Parser)]
#[command(
    name = "postback-ledger",
    version,
    about = "Receives affiliate-network postbacks (impact.com first) and keeps the payout ledger they imply.",
    after_help = "Examples:
  postback-ledger serve                                  # SQLite file postback-ledger.db, port 8080
  postback-ledger --config /etc/postback-ledger.toml serve
  POSTBACK_LEDGER_DATABASE_URL=postgres://ledger@db/ledger postback-ledger serve
  postback-ledger check                                  # verify the ledger's invariants
  postback-ledger reprocess                              # re-read quarantined deliveries
  postback-ledger setup                                  # what to paste into impact.com
  postback-ledger token show
  echo 's3cret' | postback-ledger hash-password          # for [dashboard] password_hash
  postback-ledger send-test --to http://127.0.0.1:8080 --scenario lifecycle --secret S
  postback-ledger prune --raw-older-than 90d             # forget old raw payloads, keep the ledger
  postback-ledger close 2026-11                          # close November: its statement never changes
  postback-ledger sync impact --from 2026-09-01 --to 2026-11-30   # check against impact.com's API
  postback-ledger import actions action-listing.csv --apply       # check a report, fill what it explains"
)]
pub struct Cli {
    /// The configuration file (default: $POSTBACK_LEDGER_CONFIG, else ./postback-ledger.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "human")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the receiver, the API and the dashboard (migrates the database first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Verify the ledger's invariants over the whole database; exits 1 naming every violation.
    Check,
    /// Re-run quarantined deliveries through the current configuration and report what changed.
    Reprocess,
    /// Read a password on standard input and print its argon2 hash for `[dashboard] password_hash`.
    HashPassword,
    /// Print what to paste into impact.com for each source: the GET URL and POST body templates,
    /// the header and the response texts (URLs under `public_url`).
    Setup {
        /// Only this source.
        #[arg(long, value_name = "NAME")]
        source: Option<String>,
    },
    /// Show or rotate the generated postback secret.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Play impact.com against a receiver (test conversions) and check what its ledger shows.
    SendTest(crate::cli::send_test::SendTestArgs),
    /// Delete raw payloads of old deliveries; delivery metadata, actions and entries are kept.
    Prune {
        /// Age such as 90d, 12h, 30m (default: `[retention] raw_days` of the configuration).
        #[arg(long, value_name = "AGE")]
        raw_older_than: Option<String>,
    },
    /// Close a month that has ended: its statement is stored as it stands and never changes;
    /// later facts for it land in the first open month as adjustments.
    Close {
        /// The month, as 2026-11 (in `[statement] time_zone`).
        month: String,
    },
    /// Compare a period of a network's own records with the ledger (a reconciliation run); exits
    /// 1 when differences stay open.
    Sync {
        #[command(subcommand)]
        network: SyncNetwork,
    },
    /// Compare a network's report with the ledger (a reconciliation run); exits 1 when
    /// differences stay open.
    Import {
        #[command(subcommand)]
        report: ImportReport,
    },
    /// Fill the ledger from a stored reconciliation run: what the network's records explain.
    Fill {
        /// The run's number (shown by `sync`, `import` and /reconciliation).
        run: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum SyncNetwork {
    /// impact.com's Partner API: the Actions of the period ([networks.impact]).
    Impact(crate::cli::cross_check::PeriodArgs),
}

#[derive(Debug, Subcommand)]
pub enum ImportReport {
    /// impact.com's Action Listing report as CSV (from the UI, or /Reports/mp_action_listing_fast).
    Actions {
        /// The report file.
        #[arg(value_name = "FILE.csv")]
        file: PathBuf,
        #[command(flatten)]
        period: crate::cli::cross_check::PeriodArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Print the current secret and the GET URL template of each source that uses it.
    Show,
    /// Replace the secret with a new random one; running receivers accept it within seconds.
    Rotate {
        /// Keep accepting the old secret too, until the next rotation.
        #[arg(long)]
        keep_old: bool,
    },
}

/// Exit codes: 0 fine, 1 the command found a problem (check), 2 bad configuration, 3 failure.
pub fn run(cli: Cli) -> ExitCode {
    if !matches!(cli.command, Command::Serve) {
        // Rust ignores SIGPIPE, so a print to a closed pipe (`token show | head -2`) panics. A
        // command ends quietly instead, as Unix tools do; `serve` keeps ignoring it (it must not
        // die with a client) and never prints with a panicking macro.
        // SAFETY: setting a signal's disposition to its default, before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    crate::storage::init_tls();
    telemetry::init(cli.log_format);
    if let Command::HashPassword = cli.command {
        return hash_password();
    }
    let settings = match config::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Serve => serve(settings),
        Command::Migrate => migrate(&settings),
        Command::Check => return check(&settings),
        Command::Reprocess => reprocess(&settings),
        Command::Setup { source } => print_setup(&settings, source.as_deref()),
        Command::Token { action } => token(&settings, action),
        Command::SendTest(args) => return crate::cli::send_test::run(&settings, args),
        Command::Prune { raw_older_than } => prune(&settings, raw_older_than.as_deref()),
        Command::Close { month } => close(&settings, &month),
        Command::Sync {
            network: SyncNetwork::Impact(args),
        } => return cross_check::sync(&settings, &args),
        Command::Import {
            report: ImportReport::Actions { file, period },
        } => return cross_check::import(&settings, &file, &period),
        Command::Fill { run } => return cross_check::fill(&settings, run),
        Command::HashPassword => unreachable!("handled before the configuration is read"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(3)
        }
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let listen = settings.listen.clone();
    actix_web::rt::System::new().block_on(async move {
        let (app, credentials) = Application::build(settings)?;
        tracing::info!(listen = %listen, port = app.port(), "serving");
        let base = &credentials.public_base;
        setup::print(&setup::listing(&credentials.setups, base));
        setup::warn_about(base);
        if credentials.generated.is_some() {
            setup::print(&format!(
                "Generated a postback secret for {} (`postback-ledger setup` prints it again).\n",
                credentials.sources.join(", ")
            ));
        }
        if credentials.first_start {
            setup::print(&format!(
                "\n{}\nThe dashboard shows the same at {}/setup, with each postback as it arrives.\n",
                setup::render_all(&credentials.setups),
                base.url
            ));
        } else {
            setup::print(&format!(
                "What to paste into impact.com: `postback-ledger setup`, or {}/setup on the dashboard.\n",
                base.url
            ));
        }
        app.run_until_stopped().await
    })
}

fn print_setup(settings: &Settings, only: Option<&str>) -> anyhow::Result<()> {
    if let Some(name) = only
        && !settings.sources.contains_key(name)
    {
        anyhow::bail!(
            "no source named `{name}` (configured: {})",
            settings
                .sources
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let db = Database::connect(&settings.database_url)?;
    db.migrate()?;
    let base = settings.public_base(None);
    setup::warn_about(&base);
    let setups: Vec<_> = receivers::setups(settings, &db, &base.url)?
        .into_iter()
        .filter(|setup| only.is_none_or(|name| setup.source == name))
        .collect();
    print!("{}", setup::render_all(&setups));
    Ok(())
}

fn hash_password() -> ExitCode {
    let mut password = String::new();
    if std::io::stdin().read_line(&mut password).is_err() {
        eprintln!("error: cannot read the password from standard input");
        return ExitCode::from(3);
    }
    let password = password.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        eprintln!("error: the password is empty");
        return ExitCode::from(2);
    }
    match crate::intake::auth::hash_password(password) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(3)
        }
    }
}

fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let db = Database::connect(&settings.database_url)?;
    let applied = db.migrate()?;
    println!(
        "{applied} migration(s) applied to the {} database",
        db.backend().as_str()
    );
    Ok(())
}

fn check(settings: &Settings) -> ExitCode {
    let result = Database::connect(&settings.database_url).and_then(|db| {
        db.migrate()?;
        check::violations(&mut *db.conn()?)
    });
    match result {
        Ok(violations) if violations.is_empty() => {
            println!("ledger ok: every action's entries sum to its payout");
            ExitCode::SUCCESS
        }
        Ok(violations) => {
            for violation in &violations {
                println!("{violation}");
            }
            println!("{} violation(s)", violations.len());
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(3)
        }
    }
}

fn close(settings: &Settings, month: &str) -> anyhow::Result<()> {
    let db = Database::connect(&settings.database_url)?;
    db.migrate()?;
    let zone = settings.statement.time_zone;
    let rows = crate::ledger::close::close_month(
        &mut *db.conn()?,
        month,
        zone,
        chrono::Utc::now(),
        "cli",
    )?;
    println!("{month} closed ({rows} statement row(s), months in {zone})");
    Ok(())
}

fn reprocess(settings: &Settings) -> anyhow::Result<()> {
    let db = Database::connect(&settings.database_url)?;
    db.migrate()?;
    let report = crate::ledger::reprocess::quarantined(&db, settings)?;
    for line in &report.lines {
        println!("{line}");
    }
    println!(
        "{} quarantined delivery(ies) re-read: {} now stored, {} still quarantined",
        report.examined, report.released, report.still_quarantined
    );
    Ok(())
}

fn prune(settings: &Settings, raw_older_than: Option<&str>) -> anyhow::Result<()> {
    let age = match (raw_older_than, settings.retention.raw_days) {
        (Some(text), _) => crate::ledger::retention::parse_age(text).map_err(anyhow::Error::msg)?,
        (None, Some(days)) => chrono::Duration::days(i64::from(days)),
        (None, None) => anyhow::bail!(
            "say how old: --raw-older-than 90d, or set [retention] raw_days in the configuration"
        ),
    };
    let db = Database::connect(&settings.database_url)?;
    db.migrate()?;
    let cutoff = chrono::Utc::now() - age;
    let pruned = crate::ledger::retention::prune(&db, cutoff)?;
    println!(
        "raw payloads pruned from {pruned} delivery(ies) received before {}; their metadata, actions and ledger entries are kept",
        cutoff.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    Ok(())
}

fn token(settings: &Settings, action: TokenAction) -> anyhow::Result<()> {
    let db = Database::connect(&settings.database_url)?;
    db.migrate()?;
    let base = settings.public_base(None);
    // The sources the stored secret guards (those with no credentials of their own).
    let guarded = |db: &Database| -> anyhow::Result<Vec<crate::intake::template::Setup>> {
        let (stored, _) = startup::stored_secrets(db)?;
        let guarded: Vec<String> = receivers::with_stored_secret(&settings.sources, &stored)?
            .into_iter()
            .filter(|(_, stored_secret)| *stored_secret)
            .map(|(source, _)| source.name)
            .collect();
        Ok(receivers::setups(settings, db, &base.url)?
            .into_iter()
            .filter(|setup| guarded.contains(&setup.source))
            .collect())
    };
    match action {
        TokenAction::Show => {
            let (values, _) = startup::stored_secrets(&db)?;
            println!("secret: {}", values[0]);
            if let Some(old) = values.get(1) {
                println!("also accepted (kept at the last rotation): {old}");
            }
            let setups = guarded(&db)?;
            if setups.is_empty() {
                println!(
                    "No source uses it: each has credentials of its own in the configuration (`postback-ledger setup` shows them)."
                );
            }
            for setup in &setups {
                println!("  {:<16} {}", setup.source, setup.get_url);
            }
            setup::warn_about(&base);
        }
        TokenAction::Rotate { keep_old } => {
            let (values, _) = startup::stored_secrets(&db)?;
            let fresh = crate::intake::auth::generate_secret();
            let now = to_db_time(chrono::Utc::now());
            let mut conn = db.conn()?;
            let previous = if keep_old { values[0].as_str() } else { "" };
            stored_settings::put(&mut conn, PREVIOUS_SECRET_KEY, previous, now)?;
            stored_settings::put(&mut conn, SECRET_KEY, &fresh, now)?;
            drop(conn);
            println!("new secret: {fresh}");
            println!(
                "Running receivers accept it within {} seconds; {}.",
                receivers::SECRET_RELOAD_EVERY.as_secs() + 1,
                if keep_old {
                    "the old secret is still accepted until the next rotation"
                } else {
                    "the old secret is no longer accepted"
                }
            );
            setup::warn_about(&base);
            let setups = guarded(&db)?;
            if !setups.is_empty() {
                println!("Paste the new templates into impact.com:\n");
                print!("{}", setup::render_all(&setups));
            }
        }
    }
    Ok(())
}
