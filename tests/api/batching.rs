//! Group commit applies a run of deliveries with a few multi-row statements; the ledger it leaves
//! must be the one the same deliveries leave applied one at a time, outcomes included.

use std::sync::{Arc, Mutex};

use chrono::{Duration, TimeZone, Utc};
use diesel::Connection;
use diesel::connection::InstrumentationEvent;
use postback_ledger::config::{FileConfig, resolve};
use postback_ledger::domain::outcome::Stored;
use postback_ledger::intake::delivery::{IncomingDelivery, RawRequest, understand};
use postback_ledger::ledger::batch;
use postback_ledger::storage::{
    AnyConnection, Database, action_events, actions, deliveries, ledger_entries,
};

use crate::helpers::*;
use crate::on_both_backends;

/// Several events of one action, out of order, repeated inside the batch and across it,
/// fields given once and later left out, an unknown status, a stale repeat of a value and an
/// undecodable body (quarantined) sent twice.
const REQUESTS: &[(&str, &str)] = &[
    (
        "GET",
        "ActionId=B1&Payout=5.00&DeltaPayout=-5.00&Status=MODIFIED&Oid=O-B1",
    ),
    (
        "GET",
        "ActionId=A1&Payout=10.00&DeltaPayout=10.00&Status=PENDING&Oid=O-A1&SubId1=s1",
    ),
    (
        "GET",
        "ActionId=A1&Payout=10.00&DeltaPayout=10.00&Status=PENDING&Oid=O-A1&SubId1=s1",
    ),
    ("JSON", "{\"ActionId\": tru"),
    (
        "GET",
        "ActionId=A1&Payout=7.50&DeltaPayout=-2.50&Status=MODIFIED",
    ),
    ("GET", "ActionId=C1&Payout=3.00&Status=WEIRD&Oid=O-C1"),
    (
        "GET",
        "ActionId=B1&Payout=10.00&DeltaPayout=10.00&Status=PENDING",
    ),
    ("JSON", "{\"ActionId\": tru"),
    ("GET", "ActionId=C1&Payout=3.00&Status=PENDING"),
    (
        "GET",
        "ActionId=A1&Payout=0.00&DeltaPayout=-7.50&Status=REVERSED&SubId2=s2",
    ),
    ("GET", "ActionId=D1&Payout=4.00&Status=PENDING"),
    ("GET", "ActionId=D1&Payout=4.00&Status=APPROVED"),
    (
        "GET",
        "ActionId=A1&Payout=7.50&DeltaPayout=-2.50&Status=MODIFIED",
    ),
];

fn deliveries_of(requests: &[(&str, &str)]) -> Vec<IncomingDelivery> {
    let source = resolve(FileConfig::default()).unwrap().sources["actions"].clone();
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
    requests
        .iter()
        .enumerate()
        .map(|(n, (method, text))| {
            let (query, content_type, body) = match *method {
                "GET" => (*text, None, &b""[..]),
                _ => ("", Some("application/json"), text.as_bytes()),
            };
            understand(
                &source,
                RawRequest {
                    method: if *method == "GET" { "GET" } else { "POST" },
                    query,
                    content_type,
                    body,
                    client_addr: None,
                    received_at: start + Duration::seconds(n as i64),
                },
            )
        })
        .collect()
}

/// Everything the ledger holds, with delivery ids replaced by the index of the request that
/// made them (ids may differ: PostgreSQL spends a sequence value on a refused repeat).
fn ledger(url: &str, stored: &[Stored]) -> Vec<String> {
    let index_of = |id: i64| stored.iter().position(|s| s.delivery_id == id).unwrap();
    let db = Database::connect(url).unwrap();
    let mut conn = db.conn().unwrap();
    let ids: Vec<String> = ["A1", "B1", "C1", "D1"].map(String::from).to_vec();
    let mut seen = Vec::new();
    for action in actions::of_ids(&mut conn, &ids).unwrap() {
        seen.push(format!("{action:?}"));
    }
    for event in action_events::of_actions(&mut conn, &ids).unwrap() {
        let index = index_of(event.delivery_id);
        seen.push(format!(
            "event {index} {} {} {:?} {:?}",
            event.action_id, event.status, event.payout, event.delta_payout
        ));
    }
    for entry in ledger_entries::of_actions(&mut conn, &ids).unwrap() {
        let index = index_of(entry.delivery_id);
        seen.push(format!(
            "entry {index} {} {} {} {}",
            entry.action_id, entry.kind, entry.payout_delta, entry.amount_delta
        ));
    }
    let mut ids: Vec<i64> = stored.iter().map(|s| s.delivery_id).collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        let delivery = deliveries::find(&mut conn, id).unwrap().unwrap();
        seen.push(format!(
            "delivery {} {} {} {} {:?}",
            index_of(id),
            delivery.outcome,
            delivery.times_received,
            delivery.last_received_at,
            delivery.reason
        ));
    }
    seen
}

/// The SQL texts `pick` takes from what `conn` does from now on.
fn record_sql(
    conn: &mut AnyConnection,
    pick: fn(&InstrumentationEvent<'_>) -> Option<String>,
) -> Arc<Mutex<Vec<String>>> {
    let recorded: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = recorded.clone();
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let Some(sql) = pick(&event) {
            sink.lock().unwrap().push(sql);
        }
    });
    recorded
}

fn migrated(db: &TestDatabase) -> Database {
    let database = Database::connect(&db.url).unwrap();
    database.migrate().unwrap();
    database
}

on_both_backends! {
    async fn a_batch_applied_at_once_leaves_the_ledger_and_outcomes_of_one_at_a_time(backend: Backend) {
        let batch = deliveries_of(REQUESTS);

        let one_db = TestDatabase::new(backend);
        let one = migrated(&one_db);
        let mut singles = Vec::new();
        for delivery in &batch {
            let mut conn = one.conn().unwrap();
            let mut answer = batch::apply_batch(&mut conn, one.backend(), std::slice::from_ref(delivery)).unwrap();
            singles.push(answer.remove(0).unwrap());
        }

        let all_db = TestDatabase::new(backend);
        let all = migrated(&all_db);
        let mut conn = all.conn().unwrap();
        let together: Vec<Stored> = batch::apply_batch(&mut conn, all.backend(), &batch)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        drop(conn);

        let outcomes = |stored: &[Stored]| stored.iter().map(|s| s.outcome.as_str()).collect::<Vec<_>>();
        assert_eq!(outcomes(&together), outcomes(&singles));
        // What the test is for: repeats, stale and flagged events, quarantine, all in one batch.
        for outcome in ["applied", "duplicate", "stale", "flagged", "quarantined"] {
            assert!(outcomes(&together).contains(&outcome), "{outcome} missing: {:?}", outcomes(&together));
        }
        // A repeat is answered with the id of its original, in the batch as one by one.
        assert_eq!(together[2].delivery_id, together[1].delivery_id);
        assert_eq!(together[7].delivery_id, together[3].delivery_id);
        assert_eq!(ledger(&all_db.url, &together), ledger(&one_db.url, &singles));

        // And a second batch of repeats and new events on top of stored state.
        let more = deliveries_of(&[REQUESTS[0], REQUESTS[12], ("GET", "ActionId=D1&Payout=6.00&Status=PENDING")]);
        let mut singles_more = Vec::new();
        for delivery in &more {
            let mut conn = one.conn().unwrap();
            singles_more.push(batch::apply_batch(&mut conn, one.backend(), std::slice::from_ref(delivery)).unwrap().remove(0).unwrap());
        }
        let mut conn = all.conn().unwrap();
        let together_more: Vec<Stored> = batch::apply_batch(&mut conn, all.backend(), &more)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        drop(conn);
        assert_eq!(outcomes(&together_more), outcomes(&singles_more));
        let every = |first: &[Stored], second: &[Stored]| [first, second].concat();
        assert_eq!(
            ledger(&all_db.url, &every(&together, &together_more)),
            ledger(&one_db.url, &every(&singles, &singles_more))
        );
    }
}

on_both_backends! {
    async fn the_events_of_a_batch_s_actions_are_read_by_action_in_arrival_order(backend: Backend) {
        // 600 actions with three events each: enough rows that reading them all for every batch
        // would show in the plan below.
        let requests: Vec<(String, String)> = (0..600)
            .flat_map(|n| {
                [
                    format!("ActionId=E{n}&Payout=10.00&DeltaPayout=10.00&Status=PENDING"),
                    format!("ActionId=E{n}&Payout=7.00&DeltaPayout=-3.00&Status=MODIFIED"),
                    format!("ActionId=E{n}&Payout=0.00&DeltaPayout=-7.00&Status=REVERSED"),
                ]
            })
            .map(|query| ("GET".to_owned(), query))
            .collect();
        let requests: Vec<(&str, &str)> = requests.iter().map(|(m, q)| (m.as_str(), q.as_str())).collect();
        let db = TestDatabase::new(backend);
        let database = migrated(&db);
        let mut conn = database.conn().unwrap();
        for chunk in deliveries_of(&requests).chunks(300) {
            for result in batch::apply_batch(&mut conn, database.backend(), chunk).unwrap() {
                result.unwrap();
            }
        }

        let rows = action_events::of_actions(&mut conn, &["E7".to_owned(), "E3".to_owned(), "nope".to_owned()]).unwrap();
        let read: Vec<(String, Option<i64>)> = rows.iter().map(|row| (row.action_id.clone(), row.payout)).collect();
        let expected: Vec<(String, Option<i64>)> = ["E3", "E7"]
            .iter()
            .flat_map(|id| [100_000, 70_000, 0].map(|payout| (id.to_string(), Some(payout))))
            .collect();
        assert_eq!(read, expected);
        assert!(rows.windows(2).all(|pair| pair[0].action_id < pair[1].action_id
            || (pair[0].action_id == pair[1].action_id && pair[0].delivery_id < pair[1].delivery_id)));

        if backend == Backend::Postgres {
            // A new ledger has no statistics yet: the plan must still look each id up by index
            // rather than read every event (as `action_id = ANY($1)` did, for every batch).
            use diesel::RunQueryDsl;
            #[derive(diesel::QueryableByName)]
            struct Line {
                #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
                text: String,
            }
            let ids: Vec<String> = (0..100).map(|n| format!("E{n}")).collect();
            let postback_ledger::storage::AnyConnection::Postgresql(pg) = &mut *conn else { unreachable!() };
            let plan: Vec<Line> = diesel::sql_query(format!("EXPLAIN {}", action_events::OF_ACTIONS_ON_POSTGRES))
                .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&ids)
                .load(pg)
                .unwrap();
            let plan: Vec<String> = plan.into_iter().map(|line| line.text).collect();
            assert!(plan.iter().any(|line| line.contains("Index")), "{plan:#?}");
            assert!(!plan.iter().any(|line| line.contains("Seq Scan on action_events")), "{plan:#?}");
        }
    }
}

on_both_backends! {
    async fn the_write_path_prepares_its_statements_once_per_connection(backend: Backend) {
        let db = TestDatabase::new(backend);
        let database = migrated(&db);
        let mut conn = database.conn().unwrap();
        let cached = record_sql(&mut conn, |event| match event {
            InstrumentationEvent::CacheQuery { sql, .. } => Some(sql.to_string()),
            _ => None,
        });
        // Two batches of the same shape: 20 new actions, one event and one entry each.
        let batch = |first: usize| {
            let requests: Vec<String> = (first..first + 20)
                .map(|n| format!("ActionId=P{n}&Payout=1.00&Status=PENDING"))
                .collect();
            let requests: Vec<(&str, &str)> = requests.iter().map(|q| ("GET", q.as_str())).collect();
            deliveries_of(&requests)
        };
        let mut apply = |deliveries: &[IncomingDelivery]| {
            for result in batch::apply_batch(&mut conn, database.backend(), deliveries).unwrap() {
                assert_eq!(result.unwrap().outcome.as_str(), "applied");
            }
        };

        apply(&batch(0));
        let first: Vec<String> = cached.lock().unwrap().drain(..).collect();
        for table in ["INSERT INTO deliveries", "INSERT INTO actions", "INSERT INTO action_events", "INSERT INTO ledger_entries"] {
            assert!(first.iter().any(|sql| sql.starts_with(table)), "{table} not kept prepared: {first:#?}");
        }
        apply(&batch(20));
        assert_eq!(cached.lock().unwrap().len(), 0, "prepared again: {:#?}", cached.lock().unwrap());

        // Batches of every size from 1 to 100 prepare each statement in a few sizes only.
        let mut next = 40;
        for size in 1..=100 {
            let requests: Vec<String> = (next..next + size)
                .map(|n| format!("ActionId=P{n}&Payout=1.00&Status=PENDING"))
                .collect();
            next += size;
            let requests: Vec<(&str, &str)> = requests.iter().map(|q| ("GET", q.as_str())).collect();
            apply(&deliveries_of(&requests));
        }
        let inserts = |table: &str| {
            first.iter().chain(cached.lock().unwrap().iter()).filter(|sql| sql.starts_with(table)).count()
        };
        // 1, 2, 4, …, 64 rows.
        assert_eq!(inserts("INSERT INTO actions"), 7);
        assert_eq!(inserts("INSERT INTO deliveries"), 7);
    }
}

on_both_backends! {
    async fn a_delivery_the_database_refuses_gets_its_own_error_and_the_rest_of_its_batch_commits(backend: Backend) {
        let db = TestDatabase::new(backend);
        let database = migrated(&db);
        // A refusal no input could cause: a trigger that fails one action's insert.
        match backend {
            Backend::Sqlite => db.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON actions WHEN NEW.action_id = 'R2'
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
            ),
            Backend::Postgres => {
                db.execute(
                    "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN
                       RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql",
                );
                db.execute(
                    "CREATE TRIGGER refuse BEFORE INSERT ON actions FOR EACH ROW
                     WHEN (NEW.action_id = 'R2') EXECUTE FUNCTION refuse()",
                );
            }
        }
        let batch = deliveries_of(&[
            ("GET", "ActionId=R1&Payout=1.00&Status=PENDING"),
            ("GET", "ActionId=R2&Payout=2.00&Status=PENDING"),
            ("JSON", "{\"ActionId\": tru"),
            ("GET", "ActionId=R3&Payout=3.00&Status=PENDING"),
        ]);
        let mut conn = database.conn().unwrap();
        let results = batch::apply_batch(&mut conn, database.backend(), &batch).unwrap();
        let outcomes: Vec<String> = results
            .iter()
            .map(|result| match result {
                Ok(stored) => stored.outcome.as_str().to_owned(),
                Err(error) => format!("error: {error}"),
            })
            .collect();
        assert_eq!(outcomes[0], "applied");
        assert!(outcomes[1].contains("refused by the test"), "{outcomes:?}");
        assert_eq!(outcomes[2..], ["quarantined", "applied"]);
        for (id, stored) in [("R1", true), ("R2", false), ("R3", true)] {
            assert_eq!(actions::find(&mut conn, id).unwrap().is_some(), stored, "{id}");
        }
        // The refused delivery left nothing behind, not even its inbox row: a retry can store it.
        assert_eq!(deliveries::count(&mut conn).unwrap(), 3);
    }
}

on_both_backends! {
    async fn a_later_event_changes_indexed_fields_it_gives_and_keeps_those_it_leaves_out(backend: Backend) {
        let db = TestDatabase::new(backend);
        let database = migrated(&db);
        let mut conn = database.conn().unwrap();
        let upserts = record_sql(&mut conn, |event| match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                Some(query.to_string()).filter(|sql| sql.starts_with("INSERT INTO actions"))
            }
            _ => None,
        });
        // Each its own batch, so every update meets a stored row (the write path's lean
        // statement is for rows whose indexed fields stay as stored).
        for (query, payout, sub_id1, promo_code, order_id, lean) in [
            ("Payout=10.00&Status=PENDING&SubId1=s1&Oid=O-1&PromoCode=P1", 1_000, "s1", "P1", "O-1", false),
            ("Payout=8.00&Status=MODIFIED&PromoCode=P2", 800, "s1", "P2", "O-1", true),
            ("Payout=8.00&Status=APPROVED&SubId1=s1&Oid=O-1", 800, "s1", "P2", "O-1", true),
            ("Payout=6.00&Status=MODIFIED&SubId1=s9", 600, "s9", "P2", "O-1", false),
            ("Payout=5.00&Status=MODIFIED&Oid=O-2", 500, "s9", "P2", "O-2", false),
        ] {
            let request = format!("ActionId=L1&{query}");
            let batch = deliveries_of(&[("GET", request.as_str())]);
            for result in batch::apply_batch(&mut conn, database.backend(), &batch).unwrap() {
                result.unwrap();
            }
            let statements: Vec<String> = upserts.lock().unwrap().drain(..).collect();
            assert_eq!(statements.len(), 1, "{statements:#?}");
            assert_eq!(!statements[0].contains("sub_id1 = COALESCE"), lean, "{query}");
            let action = actions::find(&mut conn, "L1").unwrap().unwrap();
            assert_eq!(action.payout, payout * 100, "{query}");
            assert_eq!(action.details.sub_id1.as_deref(), Some(sub_id1), "{query}");
            assert_eq!(action.details.promo_code.as_deref(), Some(promo_code), "{query}");
            assert_eq!(action.details.order_id.as_deref(), Some(order_id), "{query}");
            assert_eq!(actions::by_order(&mut conn, None, order_id).unwrap().len(), 1, "{query}");
        }
    }
}

on_both_backends! {
    async fn every_indexed_column_of_actions_is_one_the_lean_update_knows(backend: Backend) {
        // The upsert that leaves indexed fields out of its SET is chosen by comparing
        // `actions::IndexedFields` with what is stored; an index on a column it does not list
        // would make every update rewrite that index again, silently.
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Column {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        let db = TestDatabase::new(backend);
        let database = migrated(&db);
        let mut conn = database.conn().unwrap();
        let columns: Vec<Column> = match &mut *conn {
            AnyConnection::Sqlite(c) => diesel::sql_query(
                // An index on an expression (the brand filter's LOWER(campaign_id)) names no
                // column here; its columns are campaign_id and campaign_name, both known.
                "SELECT DISTINCT ii.name AS name FROM pragma_index_list('actions') AS il, \
                 pragma_index_info(il.name) AS ii WHERE ii.name IS NOT NULL",
            )
            .load(c),
            AnyConnection::Postgresql(c) => diesel::sql_query(
                "SELECT DISTINCT a.attname::text AS name FROM pg_index i \
                 JOIN pg_class t ON t.oid = i.indrelid \
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey) \
                 WHERE t.relname = 'actions'",
            )
            .load(c),
        }
        .unwrap();
        // The key, the state the lean statement sets anyway, `IndexedFields`, and
        // `ledger_date` (when it cleared), which only a clearing writes, never the upsert.
        let known = [
            "action_id", "status", "first_seen_at", "locking_date", "campaign_id", "campaign_name",
            "action_tracker_id", "action_tracker_name", "order_id", "shared_id", "sub_id1",
            "sub_id2", "sub_id3", "click_id", "event_date", "cleared_date", "ledger_date",
        ];
        let unknown: Vec<&str> = columns
            .iter()
            .map(|column| column.name.as_str())
            .filter(|name| !known.contains(name))
            .collect();
        assert!(unknown.is_empty(), "indexed but not in IndexedFields: {unknown:?}");
        assert!(columns.len() >= 10, "the catalog query found too few: {}", columns.len());
    }
}
