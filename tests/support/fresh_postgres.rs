//! A PostgreSQL database of a benchmark run's own, created next to the one an admin URL names
//! and dropped (connections and all) when the run is over. Shared by the benchmarks.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

/// Named after the process and the run, so runs side by side do not collide.
pub struct FreshPostgres {
    admin: String,
    name: String,
    pub url: String,
}

impl FreshPostgres {
    pub fn create(admin: &str, run: usize) -> FreshPostgres {
        let name = format!("pl_bench_{}_{run}", std::process::id());
        postback_ledger::storage::init_tls();
        let mut conn = PgConnection::establish(admin).expect("PostgreSQL answers at --postgres");
        conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .and_then(|_| conn.batch_execute(&format!("CREATE DATABASE {name}")))
            .expect("create the benchmark database");
        let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
        FreshPostgres {
            admin: admin.to_owned(),
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for FreshPostgres {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.admin) {
            let _ = conn.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
