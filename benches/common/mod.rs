//! What the report benches share: a seeded stream of numbers for their data, and running
//! one bench on SQLite and, when `BENCH_DATABASE_URL` names one, on PostgreSQL.

use std::future::Future;

use sea_orm::ConnectionTrait;

/// A seeded stream of numbers (a linear congruential generator: enough for test data).
pub struct Numbers(pub u64);

impl Numbers {
    /// The next number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Runs `bench` with a label and a database URL: on a SQLite file in a temporary folder,
/// then on PostgreSQL in a schema of its own (made, and dropped afterwards whatever the
/// bench's outcome) when `BENCH_DATABASE_URL` is set. Two worker threads, as on the
/// machine the figures in BENCHMARKS.md come from.
pub fn on_each_database<F, Fut>(mut bench: F) -> anyhow::Result<()>
where
    F: FnMut(&'static str, String) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        );
        bench("SQLite", url).await?;
        if let Ok(url) = std::env::var("BENCH_DATABASE_URL")
            && !url.is_empty()
        {
            let schema = format!("bench_{}", std::process::id());
            let admin = sea_orm::Database::connect(url.as_str()).await?;
            admin
                .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                .await?;
            let separator = if url.contains('?') { '&' } else { '?' };
            let scoped = format!("{url}{separator}options=-c%20search_path%3D{schema}");
            let result = bench("PostgreSQL", scoped).await;
            admin
                .execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                .await?;
            result?;
        }
        Ok(())
    })
}
