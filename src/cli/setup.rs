//! What to paste into impact.com, as text: printed by `setup`, by `token show` and `token
//! rotate`, and by the first `serve`. Written from the same `intake::template` as the dashboard's
//! `/setup` page.

use std::io::Write;

use crate::config::PublicBase;
use crate::intake::template::Setup;

/// Every template of one source, each value on a line of its own, indented, to copy.
pub fn render(setup: &Setup) -> String {
    let mut out = format!(
        "{}: impact.com's \"{}\" ({})\n  checked: {}\n",
        setup.source,
        setup.event,
        setup.kind,
        setup.schemes.join(", ")
    );
    out.push_str(&format!("  GET URL:\n    {}\n", setup.get_url));
    out.push_str(&format!("  POST URL:\n    {}\n", setup.post_url));
    out.push_str("  POST body (Body Format JSON):\n");
    for line in setup.post_body.lines() {
        out.push_str(&format!("    {line}\n"));
    }
    if let Some(header) = &setup.header {
        out.push_str(&format!("  HTTP Header:\n    {header}\n"));
    }
    out.push_str(&format!(
        "  Success Response: {}\n  Error Response: {}\n",
        setup.success, setup.error
    ));
    for note in &setup.notes {
        out.push_str(&format!("  note: {note}\n"));
    }
    out
}

/// All sources, the way to impact.com's settings first.
pub fn render_all(setups: &[Setup]) -> String {
    let mut out = String::from(
        "In impact.com: Settings > Technical > Event Notifications, edit the event named for each source.\n\
         Paste the GET URL (HTTP method GET), or the POST URL and body (POST, Body Format JSON),\n\
         and type in the Success and Error Response.\n",
    );
    for setup in setups {
        out.push('\n');
        out.push_str(&render(setup));
    }
    out
}

/// One line per source: its name, kind and what it checks (`serve` prints it at every start).
pub fn listing(setups: &[Setup], base: &PublicBase) -> String {
    let mut out = format!(
        "Serving {} source(s) at {}/postbacks/NAME:\n",
        setups.len(),
        base.url
    );
    for setup in setups {
        out.push_str(&format!(
            "  {:<18} {:<24} {}\n",
            setup.source,
            setup.kind.as_str(),
            setup.schemes.join(", ")
        ));
    }
    out
}

/// `warning: …` on standard error, when the URLs are only the listen address.
pub fn warn_about(base: &PublicBase) {
    if let Some(warning) = &base.warning {
        let _ = writeln!(std::io::stderr(), "warning: {warning}");
    }
}

/// Standard output that never panics: `serve` keeps serving when whoever read its output has
/// gone (the commands get SIGPIPE's default instead; see `cli::run`).
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
