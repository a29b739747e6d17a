//! The dashboard in a real browser: headless Chromium, driven through chromedriver, after
//! postbacks arrived over HTTP; a screenshot of each page is saved under target/screenshots/.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::helpers::*;

/// Every page photographed at desktop width, with the heading it must show:
/// (file name, path, `<h1>`). A new page is one more line.
const PAGES: &[(&str, &str, &str)] = &[
    ("overview", "/", "Overview"),
    ("pending", "/actions?status=pending", "Pending actions"),
    ("reversed", "/actions?status=reversed", "Reversed actions"),
    ("all", "/actions?status=all", "All actions"),
    ("action", "/actions/E2E-R1", "Action E2E-R1"),
    ("inquiries", "/inquiries", "Inquiries"),
    ("deliveries", "/deliveries", "Deliveries"),
    ("statement", "/statement?year=2026", "Statement 2026"),
    ("setup", "/setup", "Connect impact.com"),
];

const DESKTOP: (u32, u32) = (1366, 900);
const PHONE: (u32, u32) = (390, 844);
/// How long the browser may take to get somewhere after a click.
const PATIENCE: Duration = Duration::from_secs(15);

/// chromedriver ($CHROMEDRIVER, else Debian's), or None when it is not installed and we are not
/// in CI (the caller skips, loudly). In CI (`CI=true`) a missing driver fails the test instead.
fn chromedriver_path() -> Option<PathBuf> {
    let path = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|value| value == "true") {
        panic!(
            "CI=true but chromedriver is not at {} (install Debian's chromium and chromium-driver, \
             as .ci/run does, or set CHROMEDRIVER)",
            path.display()
        );
    }
    eprintln!(
        "SKIPPED the browser test: chromedriver is not at {} (install chromium and \
         chromium-driver, or set CHROMEDRIVER); CI=true makes this a failure.",
        path.display()
    );
    None
}

/// chromedriver on a free loopback port, in a process group of its own so that it and the
/// browsers it started are killed when this is dropped, a failed assertion included.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start(binary: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + PATIENCE;
        let client = reqwest::Client::new();
        loop {
            let status = client.get(format!("{}/status", driver.url)).send().await;
            if status.is_ok_and(|response| response.status().is_success()) {
                return driver;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer within {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A headless Chromium session.
    async fn browser(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "args": [
                    "--headless=new",
                    // CI containers run as root, where Chromium's sandbox refuses to start; the
                    // browser only visits the app on loopback.
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
                ]
            }),
        );
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("chromedriver opens a headless Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// target/screenshots (under $CARGO_TARGET_DIR when set), created.
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).expect("create the screenshot directory");
    dir
}

/// Saves the whole current page (the window stretched to its height) as `name.png`.
async fn screenshot(client: &Client, name: &str) {
    let height = client
        .execute("return document.documentElement.scrollHeight", vec![])
        .await
        .expect("page height")
        .as_u64()
        .unwrap_or(DESKTOP.1 as u64)
        .clamp(PHONE.1 as u64, 8_000) as u32;
    let (width, before) = client.get_window_size().await.expect("window size");
    client
        .set_window_size(width as u32, height)
        .await
        .expect("resize");
    let png = client.screenshot().await.expect("a screenshot");
    client
        .set_window_size(width as u32, before as u32)
        .await
        .expect("resize back");
    let path = screenshot_dir().join(format!("{name}.png"));
    std::fs::write(&path, png).expect("write the screenshot");
    eprintln!("screenshot: {}", path.display());
}

/// The cells' text of every body row of the table `selector` names.
async fn table(client: &Client, selector: &str) -> Vec<Vec<String>> {
    let rows = client
        .execute(
            "return Array.from(document.querySelectorAll(arguments[0] + ' tbody tr'))
                .map(row => Array.from(row.cells).map(cell => cell.innerText.trim()));",
            vec![json!(selector)],
        )
        .await
        .expect("read the table");
    serde_json::from_value(rows).expect("rows of cells")
}

/// The action ids the list shows, sorted.
async fn listed_ids(client: &Client) -> Vec<String> {
    let mut ids: Vec<String> = table(client, "#actions-table")
        .await
        .into_iter()
        .filter(|cells| cells.len() > 1)
        .map(|cells| cells[0].clone())
        .collect();
    ids.sort();
    ids
}

async fn heading(client: &Client) -> String {
    client
        .find(Locator::Css("h1"))
        .await
        .expect("the page has a heading")
        .text()
        .await
        .expect("heading text")
}

/// Waits until the browser is at a URL containing `part` (a click's navigation finished).
async fn wait_for_url(client: &Client, part: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let url = client.current_url().await.expect("current url");
        if url.as_str().contains(part) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the browser stayed at {url}, expected {part}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Types `value` into the filter form's field `id` as a person would, submits the form and
/// waits for the filtered list.
async fn filter_by(client: &Client, id: &str, value: &str) {
    let field = client
        .find(Locator::Id(id))
        .await
        .expect("the filter field");
    if field.tag_name().await.expect("its tag") == "select" {
        field.select_by_value(value).await.expect("choosing");
    } else {
        field.send_keys(value).await.expect("typing");
    }
    client
        .form(Locator::Css("form.filters"))
        .await
        .expect("the filter form")
        .submit()
        .await
        .expect("submit");
    let encoded = serde_urlencoded::to_string([(id, value)]).unwrap();
    wait_for_url(client, &encoded).await;
}

/// One event of an action, as impact.com sends it in a GET query string.
fn event(
    action_id: &str,
    campaign: (&str, &str),
    currency: &str,
    (status, payout, delta): (&str, &str, &str),
) -> String {
    format!(
        "ActionId={action_id}&Status={status}&Payout={payout}&DeltaPayout={delta}&Amount=100.00\
         &Currency={currency}&CampaignId={}&CampaignName={}&ActionTrackerName=Sale\
         &Oid=ORD-{action_id}&EventDate=2026-11-20T10:00:00Z",
        campaign.0,
        campaign.1.replace(' ', "%20")
    )
}

const SPRING: (&str, &str) = ("100", "Spring Sale");
const WINTER: (&str, &str) = ("200", "Winter Sale");

/// An action's id, campaign, currency and events (status, payout, delta payout).
type History = (
    &'static str,
    (&'static str, &'static str),
    &'static str,
    &'static [(&'static str, &'static str, &'static str)],
);

/// Five pending actions in two campaigns and two currencies (one of them modified) and one
/// tracked, modified and reversed.
async fn send_postbacks(app: &TestApp) {
    let histories: &[History] = &[
        ("E2E-P1", SPRING, "USD", &[("PENDING", "12.50", "12.50")]),
        ("E2E-P2", SPRING, "USD", &[("PENDING", "7.25", "7.25")]),
        (
            "E2E-M1",
            SPRING,
            "USD",
            &[
                ("PENDING", "15.50", "15.50"),
                ("MODIFIED", "10.50", "-5.00"),
            ],
        ),
        ("E2E-P3", WINTER, "USD", &[("PENDING", "20.00", "20.00")]),
        ("E2E-P4", WINTER, "EUR", &[("PENDING", "5.00", "5.00")]),
        (
            "E2E-R1",
            WINTER,
            "USD",
            &[
                ("PENDING", "30.00", "30.00"),
                ("MODIFIED", "25.00", "-5.00"),
                ("REVERSED", "0", "-25.00"),
            ],
        ),
    ];
    for (action_id, campaign, currency, events) in histories {
        for step in *events {
            let answer = app
                .get_postback("actions", &event(action_id, *campaign, currency, *step))
                .await;
            assert_eq!(
                answer.outcome.as_deref(),
                Some("applied"),
                "{action_id} {step:?}: {}",
                answer.body
            );
        }
    }
}

#[actix_web::test]
async fn the_dashboard_in_a_real_browser_shows_lists_totals_filters_search_and_timeline() {
    let Some(chromedriver) = chromedriver_path() else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await;
    send_postbacks(&app).await;
    let driver = Driver::start(&chromedriver).await;
    let client = driver.browser().await;
    let at = |path: &str| format!("{}{path}", app.address);

    for (name, path, expected) in PAGES {
        client.goto(&at(path)).await.expect("the page loads");
        assert_eq!(heading(&client).await, *expected, "{path}");
        screenshot(&client, name).await;
    }

    // Pending: every pending action, the modified one at its new payout; totals per currency.
    client.goto(&at("/actions?status=pending")).await.unwrap();
    assert_eq!(
        listed_ids(&client).await,
        ["E2E-M1", "E2E-P1", "E2E-P2", "E2E-P3", "E2E-P4"]
    );
    let rows = table(&client, "#actions-table").await;
    let modified = rows.iter().find(|cells| cells[0] == "E2E-M1").unwrap();
    assert_eq!(
        (&modified[1][..], &modified[2][..], &modified[3][..]),
        ("pending", "10.50 USD", "Spring Sale")
    );
    assert_eq!(
        table(&client, "#totals-table").await,
        [
            ["EUR", "1", "5.00 EUR", "100.00 EUR"],
            ["USD", "4", "50.25 USD", "400.00 USD"]
        ]
    );

    // Reversed: the reversed action only, at zero, with its status and what the reversal took.
    client.goto(&at("/actions?status=reversed")).await.unwrap();
    let rows = table(&client, "#actions-table").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (&rows[0][0][..], &rows[0][1][..], &rows[0][2][..]),
        ("E2E-R1", "reversed", "0.00 USD\nreversed 25.00 USD")
    );
    // Its totals show what the reversals took, as the overview's card does (issue 22).
    assert_eq!(
        table(&client, "#totals-table").await,
        [["USD", "1", "0.00 USD", "25.00 USD", "0.00 USD"]]
    );

    // The filter form: one campaign narrows the rows and the totals.
    client.goto(&at("/actions?status=pending")).await.unwrap();
    filter_by(&client, "campaign", SPRING.0).await;
    assert_eq!(listed_ids(&client).await, ["E2E-M1", "E2E-P1", "E2E-P2"]);
    assert_eq!(
        table(&client, "#totals-table").await,
        [["USD", "3", "30.25 USD", "300.00 USD"]]
    );
    screenshot(&client, "pending-filtered-by-campaign").await;

    // The search box finds an action by its order id, whatever its status.
    client.goto(&at("/actions?status=all")).await.unwrap();
    filter_by(&client, "q", "ORD-E2E-R1").await;
    assert_eq!(listed_ids(&client).await, ["E2E-R1"]);
    screenshot(&client, "search-by-order-id").await;

    // Its id opens the detail page with the ledger timeline.
    client
        .find(Locator::LinkText("E2E-R1"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_url(&client, "/actions/E2E-R1").await;
    assert_eq!(heading(&client).await, "Action E2E-R1");
    let timeline = client
        .execute(
            "return Array.from(document.querySelectorAll('ol.timeline li'))
                .map(item => [item.querySelector('.kind').innerText, item.querySelector('strong').innerText]);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        timeline,
        json!([
            ["tracked", "30.00 USD"],
            ["modified", "-5.00 USD"],
            ["reversed", "-25.00 USD"]
        ])
    );

    // The overview's numbers per currency; reversed is what the reversals took away.
    client.goto(&at("/")).await.unwrap();
    let usd = table(&client, "section[aria-label='Payout in USD'] table").await;
    assert_eq!(usd[0], ["Pending", "4", "50.25 USD"]);
    assert_eq!(usd[3], ["Reversed", "1", "25.00 USD"]);
    let rate = client
        .find(Locator::Css("section[aria-label='Payout in USD'] p.muted"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(rate, "Reversal rate 20.0%");
    let eur = table(&client, "section[aria-label='Payout in EUR'] table").await;
    assert_eq!(eur[0], ["Pending", "1", "5.00 EUR"]);

    // The active filter is a chip whose link drops it.
    client
        .goto(&at("/actions?status=pending&campaign=spring%20sale"))
        .await
        .unwrap();
    assert_eq!(
        listed_ids(&client).await,
        ["E2E-M1", "E2E-P1", "E2E-P2"],
        "any case"
    );
    let chip = client
        .find(Locator::Css(".chips a.chip"))
        .await
        .expect("a chip for the brand");
    assert_eq!(chip.text().await.unwrap(), "Brand: spring sale×");
    chip.click().await.unwrap();
    wait_for_url(&client, "status=pending").await;
    assert_eq!(
        listed_ids(&client).await.len(),
        5,
        "the chip removed the filter"
    );

    client.close().await.expect("the session closes");
}

/// What the setup page's fields hold: (source, which template, its text).
async fn templates(client: &Client) -> Vec<(String, String, String)> {
    let found = client
        .execute(
            "return Array.from(document.querySelectorAll('[data-template]'))
                .map(field => [field.getAttribute('data-source') || '', field.getAttribute('data-template'), field.value]);",
            vec![],
        )
        .await
        .expect("read the templates");
    serde_json::from_value(found).expect("triples")
}

async fn text_of(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("{css} is on the page"))
        .text()
        .await
        .expect("its text")
}

#[actix_web::test]
async fn the_setup_page_shows_every_template_to_copy_and_a_postback_arriving() {
    let Some(chromedriver) = chromedriver_path() else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await;
    let driver = Driver::start(&chromedriver).await;
    let client = driver.browser().await;
    client
        .goto(&format!("{}/setup", app.address))
        .await
        .unwrap();
    assert_eq!(heading(&client).await, "Connect impact.com");
    // No public_url in the test's configuration: the page says impact.com cannot reach it.
    let warning = text_of(&client, "section.warning").await;
    assert!(warning.contains("public_url is not set"), "{warning}");

    let found = templates(&client).await;
    for source in [
        "actions",
        "inquiries",
        "clearing",
        "products",
        "jobs",
        "tracking-values",
    ] {
        let of = |which: &str| {
            found
                .iter()
                .find(|(name, kind, _)| name == source && kind == which)
                .map(|(_, _, text)| text.clone())
                .unwrap_or_else(|| panic!("no {which} template for {source}: {found:?}"))
        };
        let get = of("get");
        assert!(
            get.starts_with(&format!(
                "{}/postbacks/{source}?secure={SECRET}&",
                app.address
            )),
            "{get}"
        );
        assert!(get.contains("={"), "placeholders in {get}");
        assert_eq!(
            of("post-url"),
            format!("{}/postbacks/{source}?secure={SECRET}", app.address)
        );
        assert!(
            of("post-body").starts_with("{\n  \""),
            "{}",
            of("post-body")
        );
        assert_eq!(
            text_of(&client, &format!("#arrival-{source}")).await,
            "Waiting for the first postback…"
        );
    }
    let success: Vec<&str> = found
        .iter()
        .filter(|(_, kind, _)| kind == "success")
        .map(|(_, _, text)| text.as_str())
        .collect();
    assert_eq!(success, ["OK"; 6]);

    // The script shows a copy button per template; one copies the actions' GET URL.
    let visible = client
        .execute(
            "return Array.from(document.querySelectorAll('button[data-copy]')).filter(b => !b.hidden).length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        visible,
        json!(18),
        "GET URL, POST URL and body for six sources"
    );
    client
        .find(Locator::Css("button[data-copy='get-actions']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let copied = client
        .execute(
            "return document.querySelector(\"button[data-copy='get-actions']\").getAttribute('data-copied')",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        copied == json!("true") || copied == json!("false"),
        "the click ran: {copied}"
    );

    // impact.com sends the GET template filled in; the page shows it arrive, without a reload.
    let get = found
        .iter()
        .find(|(name, kind, _)| name == "actions" && kind == "get")
        .map(|(_, _, text)| text.clone())
        .unwrap();
    let url = crate::connect::fill_get(&get, &crate::connect::seed("action_modified.json"));
    let response = app.client.get(&url).send().await.unwrap();
    // The seed is a modification without its tracking event: applied, flagged for the gap.
    assert_eq!(response.headers()["x-delivery-outcome"], "flagged");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let shown = text_of(&client, "#arrival-actions").await;
        if shown.contains("flagged") {
            assert!(shown.starts_with("Last postback #"), "{shown}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the arrival was not shown: {shown}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        text_of(&client, "#arrival-inquiries").await,
        "Waiting for the first postback…"
    );
    screenshot(&client, "setup-arrived").await;
    client.close().await.expect("the session closes");
}

/// axe-core, vendored from the npm registry (see tests/support/axe/README.md).
const AXE: &str = include_str!("../support/axe/axe.min.js");

/// About 2,600 postbacks for 1,025 actions over five brands in USD and EUR, over HTTP: sales
/// over the last 60 days (the older ones past locking), changes, reversals, repeats, clearings
/// (and a few for ids never tracked: placeholders), some junk, and sums of four and more digits.
async fn send_a_season(app: &TestApp) -> usize {
    const BRANDS: [(&str, &str); 5] = [
        ("301", "Northwind Outfitters"),
        ("302", "Contoso Home"),
        ("303", "Fabrikam Travel"),
        ("304", "Tailspin Toys"),
        ("305", "Wide World Importers"),
    ];
    let now = chrono::Utc::now();
    let mut queries: Vec<(&str, String)> = Vec::new();
    for i in 0..1025usize {
        let (id, name) = BRANDS[i % 5];
        let currency = if i % 3 == 0 { "EUR" } else { "USD" };
        let event = now - chrono::Duration::hours((i as i64 * 7919) % (60 * 24));
        let locking = event + chrono::Duration::days(30);
        // Now and then a large order: the sums run to five digits before the decimals.
        let payout = if i % 97 == 0 {
            format!("{}.{:02}", 2_000 + i, i % 100)
        } else {
            format!("{}.{:02}", 5 + i % 90, i % 100)
        };
        let common = format!(
            "ActionId=S-{i:05}&Amount={}.00&Currency={currency}&CampaignId={id}&CampaignName={}\
             &ActionTrackerName={}&Oid=ORD-{i:05}&EventDate={}&LockingDate={}",
            10 * (5 + i % 90),
            name.replace(' ', "%20"),
            if i % 4 == 0 { "Lead" } else { "Sale" },
            event.format("%Y-%m-%dT%H:%M:%SZ"),
            locking.format("%Y-%m-%dT%H:%M:%SZ"),
        );
        let first = format!("{common}&Status=PENDING&Payout={payout}&DeltaPayout={payout}");
        queries.push(("actions", first.clone()));
        if i % 3 == 1 || i % 7 == 0 {
            queries.push(("actions", first)); // a repeat, stored once
        }
        if i % 2 == 0 {
            queries.push((
                "actions",
                format!("{common}&Status=MODIFIED&Payout=4.00&DeltaPayout=-1.00"),
            ));
        }
        if i % 4 == 0 {
            queries.push((
                "actions",
                format!("{common}&Status=MODIFIED&Payout=4.50&DeltaPayout=0.50"),
            ));
        }
        if i % 10 == 3 {
            queries.push((
                "actions",
                format!("{common}&Status=REVERSED&Payout=0&DeltaPayout=-{payout}"),
            ));
        } else if i % 5 == 4 && locking < now {
            queries.push((
                "clearing",
                format!(
                    "ActionIds=S-{i:05}&ClearedDate={}",
                    now.format("%Y-%m-%dT%H:%M:%SZ")
                ),
            ));
        }
    }
    for i in 0..5 {
        queries.push((
            "clearing",
            format!(
                "ActionIds=GHOST-{i}&ClearedDate={}",
                now.format("%Y-%m-%dT%H:%M:%SZ")
            ),
        ));
    }
    for i in 0..10 {
        queries.push(("actions", format!("Junk={i}&Payout=abc")));
    }
    let sent = queries.len();
    for (source, query) in &queries {
        let answer = app.get_postback(source, query).await;
        // Junk is kept, quarantined, whatever it is answered.
        if !query.starts_with("Junk") {
            assert_eq!(answer.status, 200, "{query}: {answer:?}");
        }
    }
    sent
}

/// What must hold on a page at the window's current width, as problems found: nothing wider
/// than the window outside a scrolling table wrapper, no amount clipped nor hidden in its
/// table's scrolling box (columns of less weight give way instead), the navigation on one row
/// or a menu.
async fn check_layout(client: &Client, page: &str, width: u32) -> Vec<String> {
    let found = client
        .execute(
            r#"const viewport = document.documentElement.clientWidth;
            const wide = [];
            for (const element of document.querySelectorAll('body *')) {
              const wrapper = element.closest('.scroll');
              if (wrapper && wrapper !== element) continue;
              const box = element.getBoundingClientRect();
              if (box.width === 0 && box.height === 0) continue;
              if (box.right > viewport + 1 || box.left < -1) {
                wide.push(`${element.tagName}#${element.id}.${element.className} ${Math.round(box.left)}–${Math.round(box.right)}`);
              }
            }
            const clipped = [];
            let amounts = 0;
            for (const amount of document.querySelectorAll('.money')) {
              // Not shown: a hidden column, a closed <details>.
              if (amount.getClientRects().length === 0 || amount.innerText.trim() === '') continue;
              amounts += 1;
              if (amount.scrollWidth > amount.clientWidth) {
                clipped.push(`${amount.innerText} ${amount.scrollWidth}>${amount.clientWidth}`);
              }
              // Nor cut off by its table's scrolling box, before anyone scrolls.
              const wrapper = amount.closest('.scroll');
              if (wrapper && amount.getBoundingClientRect().right > wrapper.getBoundingClientRect().right + 1) {
                clipped.push(`${amount.innerText} beyond its scrolling box`);
              }
            }
            const nav = document.querySelector('.top nav');
            const rows = new Set(Array.from(nav.querySelectorAll('a'))
              .filter(link => link.getClientRects().length > 0)
              .map(link => Math.round(link.getBoundingClientRect().top)));
            const button = document.querySelector('label[for=menu-toggle]');
            const menu = getComputedStyle(nav).display === 'none'
              && getComputedStyle(button).display !== 'none';
            return {viewport, page: document.documentElement.scrollWidth, wide, clipped, amounts,
                    nav_rows: rows.size, menu};"#,
            vec![],
        )
        .await
        .expect("measure the page");
    let at = format!("{page} at {width}px");
    let mut problems = Vec::new();
    if found["page"].as_u64() > found["viewport"].as_u64() {
        problems.push(format!("{at}: the page scrolls sideways: {found}"));
    }
    if found["wide"] != json!([]) {
        problems.push(format!("{at}: wider than the window: {}", found["wide"]));
    }
    if found["clipped"] != json!([]) {
        problems.push(format!("{at}: clipped amounts: {}", found["clipped"]));
    }
    if !(found["nav_rows"] == 1 || found["menu"] == true) {
        problems.push(format!("{at}: the navigation wraps: {found}"));
    }
    problems
}

/// axe-core's serious and critical violations on the current page, as `rule: targets`.
async fn accessibility_violations(client: &Client) -> Vec<String> {
    client
        .execute(&format!("{AXE}\nreturn typeof window.axe;"), vec![])
        .await
        .expect("axe loads");
    let found = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']})
               .then(result => done(result.violations
                 .filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3)
                   .map(n => n.target.join(' ')).join(', '))))
               .catch(error => done(['axe failed: ' + error]));",
            vec![],
        )
        .await
        .expect("axe runs");
    serde_json::from_value(found).expect("a list of violations")
}

#[actix_web::test]
async fn every_page_fits_a_laptop_and_a_phone_with_a_season_of_postbacks() {
    let Some(chromedriver) = chromedriver_path() else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await;
    let sent = send_a_season(&app).await;
    assert!(sent > 2_400, "{sent} postbacks");
    let driver = Driver::start(&chromedriver).await;
    let client = driver.browser().await;
    let at = |path: &str| format!("{}{path}", app.address);
    let action_id = "S-00003";
    let delivery = app
        .json("/api/deliveries?limit=1")
        .await
        .expect("deliveries");
    let delivery_id = delivery["deliveries"][0]["id"].clone();
    let pages: Vec<(&str, String)> = vec![
        ("season-overview", "/".into()),
        ("season-overview-arrival", "/?by=arrival&days=90".into()),
        ("season-pending", "/actions?status=pending".into()),
        ("season-approved", "/actions?status=approved".into()),
        ("season-cleared", "/actions?status=cleared".into()),
        ("season-reversed", "/actions?status=reversed".into()),
        (
            "season-all-filtered",
            "/actions?status=all&campaign=302&currency=usd&event_type=sale&flagged=true".into(),
        ),
        ("season-all-page-2", "/actions?status=all".into()),
        ("season-action", format!("/actions/{action_id}")),
        ("season-inquiries", "/inquiries".into()),
        ("season-deliveries", "/deliveries".into()),
        ("season-delivery", format!("/deliveries/{delivery_id}")),
        ("season-statement", "/statement".into()),
        ("season-setup", "/setup".into()),
        ("season-cross-check", "/reconciliation".into()),
    ];
    let (mut violations, mut layout) = (Vec::new(), Vec::new());
    for (width, height, suffix) in [
        (DESKTOP.0, DESKTOP.1, "laptop"),
        (PHONE.0, PHONE.1, "phone"),
    ] {
        client.set_window_size(width, height).await.unwrap();
        for (name, path) in &pages {
            client.goto(&at(path)).await.expect("the page loads");
            if *name == "season-all-page-2" {
                // The pager's own link: its count moves on and it leads back.
                let next = client
                    .find(Locator::Css(".pager a[rel=next]"))
                    .await
                    .unwrap();
                next.click().await.unwrap();
                wait_for_url(&client, "start=50").await;
                let count = client.find(Locator::Css(".pager .count")).await.unwrap();
                let count = count.text().await.unwrap();
                assert!(count.starts_with("51–100 of 1,0"), "{count}");
                assert!(
                    client
                        .find(Locator::Css(".pager a[rel=prev]"))
                        .await
                        .is_ok()
                );
            }
            // First, so that a page that fails the checks is there to look at.
            screenshot(&client, &format!("{name}-{suffix}")).await;
            layout.extend(check_layout(&client, path, width).await);
            for violation in accessibility_violations(&client).await {
                violations.push(format!("{path} at {width}px: {violation}"));
            }
        }
    }
    assert_eq!(layout, Vec::<String>::new(), "every page at both widths");
    assert_eq!(violations, Vec::<String>::new(), "serious or critical");

    // The headline figures are /api/summary's, per currency.
    client.set_window_size(DESKTOP.0, DESKTOP.1).await.unwrap();
    client.goto(&at("/")).await.unwrap();
    let shown = client
        .execute(
            "return Array.from(document.querySelectorAll('dd[data-headline]')).map(figure =>
               [figure.closest('[data-currency]').dataset.currency, figure.dataset.headline,
                figure.dataset.value, figure.innerText]);",
            vec![],
        )
        .await
        .unwrap();
    let shown: Vec<[String; 4]> = serde_json::from_value(shown).unwrap();
    let summary = app.json("/api/summary").await.unwrap();
    let currencies = summary["currencies"].as_array().unwrap();
    assert_eq!(
        currencies.len(),
        2,
        "USD and EUR; the placeholders are no card: {summary}"
    );
    assert_eq!(shown.len(), 8, "four figures per currency: {shown:?}");
    for [currency, key, value, text] in &shown {
        let api = currencies
            .iter()
            .find(|summary| summary["currency"] == currency.as_str())
            .unwrap();
        assert_eq!(
            api["headline"][key.as_str()],
            value.as_str(),
            "{currency} {key}"
        );
        assert_eq!(
            text.replace(',', ""),
            format!("{value} {currency}"),
            "{currency} {key} as shown"
        );
    }
    assert_eq!(summary["attention"]["placeholders"], 5);
    assert_ne!(
        summary["currencies"][0]["headline"]["cleared_this_month"], "0.00",
        "clearings this month"
    );

    client.close().await.expect("the session closes");
}
