//! Benchmark (not a test): time to load a `SubsidyProject` with 200 events on each backend.
//!
//! A demo project in construction (demo-2021-17, 16 events) receives progress reports (each a
//! full form payload) until it holds 200 events; then it is loaded 5 times to warm up and 50
//! times measured. Run: `cargo run --release -p tests --example project_load`.

use std::time::{Duration, Instant};

use api::Engine;
use domain::fixtures::{date, progress_form, VILLAGES_2021};
use domain::{CommandContext, ProjectCommand, SubsidyProject};
use tests::{Kind, TestDb};
use workflows::programme::ProgrammeRegistry;

const ID: &str = "demo-2021-17";

#[tokio::main]
async fn main() {
    for kind in [Kind::Sqlite, Kind::Postgres] {
        let db = TestDb::new(kind).await;
        let engine = Engine::with_store(db.store.clone(), ProgrammeRegistry::builtin());
        api::demo::load(&engine).await.expect("demo data");
        let ctx = CommandContext::new("bench");
        let (_, mut version) = engine.load(ID).await.unwrap();
        while version < 200 {
            let on = date(2021, 7, 1);
            let form = progress_form(VILLAGES_2021, "燕崖镇", "bench", on, (version % 40) as i64);
            let cmd = ProjectCommand::SubmitProgressReport {
                period: format!("bench-{version}"),
                reported_on: on,
                form,
            };
            version = engine.execute(ID, &ctx, cmd, None).await.unwrap().version;
        }
        for _ in 0..5 {
            db.store.load::<SubsidyProject>(ID).await.unwrap();
        }
        let mut samples: Vec<Duration> = (0..50).map(|_| Duration::ZERO).collect();
        for s in samples.iter_mut() {
            let t = Instant::now();
            let (_, v) = db.store.load::<SubsidyProject>(ID).await.unwrap();
            *s = t.elapsed();
            assert_eq!(v, 200);
        }
        samples.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{kind:?}: load of a 200-event project: min {:.2} ms, median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
            ms(samples[0]),
            ms(samples[25]),
            ms(samples[47]),
            ms(samples[49])
        );
    }
}
