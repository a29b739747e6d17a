//! The layers of `src/lib.rs` point one way: each folder imports only the folders listed before
//! it (its own freely). A `use crate::<folder>` against the arrows fails here, naming the line.

use std::path::{Path, PathBuf};

/// Each top-level module and the modules it may import.
const ALLOWED: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("telemetry", &[]),
    ("intake", &["domain", "telemetry"]),
    ("config", &["domain", "intake"]),
    ("storage", &["domain"]),
    (
        "ledger",
        &["domain", "telemetry", "intake", "config", "storage"],
    ),
    (
        "network",
        &[
            "domain",
            "telemetry",
            "intake",
            "config",
            "storage",
            "ledger",
        ],
    ),
    ("read", &["domain", "storage"]),
    ("alerts", &["domain", "telemetry", "config", "storage"]),
    (
        "web",
        &[
            "domain",
            "telemetry",
            "intake",
            "config",
            "storage",
            "ledger",
            "network",
            "read",
            "alerts",
        ],
    ),
    (
        "cli",
        &[
            "domain",
            "telemetry",
            "intake",
            "config",
            "storage",
            "ledger",
            "network",
            "read",
            "alerts",
            "web",
        ],
    ),
];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// `crate::<name>` at every place it appears in `text`, with its line number.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            found.push((number + 1, name));
            rest = after;
        }
    }
    found
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let known: Vec<&str> = ALLOWED.iter().map(|(name, _)| *name).collect();
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" || top == "main" {
            continue;
        }
        let allowed = ALLOWED
            .iter()
            .find(|(name, _)| *name == top)
            .unwrap_or_else(|| {
                panic!("src/{top} is not a layer of tests/api/layers.rs; add it to ALLOWED")
            })
            .1;
        let text = std::fs::read_to_string(file).unwrap();
        for (line, used) in crate_paths(&text) {
            if used != top && known.contains(&used.as_str()) && !allowed.contains(&used.as_str()) {
                wrong.push(format!(
                    "src/{}:{line} {top} imports {used}",
                    relative.display()
                ));
            }
        }
    }
    assert!(
        files.len() > 50,
        "found only {} source files under {}",
        files.len(),
        src.display()
    );
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn a_path_against_the_arrows_is_found() {
    assert_eq!(
        crate_paths("use crate::web::startup; x(crate::domain::money::Money)"),
        [(1, "web".to_owned()), (1, "domain".to_owned())]
    );
}
