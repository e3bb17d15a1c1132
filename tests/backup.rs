//! Backup → restore gives the same views and the same outcome numbers.

mod common;

use common::server::master_key;
use common::{database_url, import_pilot, TestDb};
use desist_projections::compliance::ComplianceProjection;
use desist_projections::measures::outcomes::Split;
use desist_projections::outcomes::OutcomesProjection;
use desist_projections::progress::ProgressProjection;
use desist_projections::Projection;
use desist_store::Db;

/// Every row of every view of `P`, without feed positions (which a restore renumbers).
async fn rows<P: Projection>(pool: &Db) -> Vec<String> {
    let mut all = Vec::new();
    for table in P::TABLES {
        let rows = common::table_rows(pool, table, &["pos", "pos_tx", "global_position"]).await;
        all.extend(rows.into_iter().map(|r| format!("{table}: {r}")));
    }
    all
}

async fn snapshot(pool: &Db) -> (Vec<String>, Vec<String>, Vec<String>, String) {
    let report = desist_projections::queries::outcome_report(
        pool,
        "2025-06-30".parse().unwrap(),
        None,
        Split::default(),
    )
    .await
    .unwrap();
    let figures = serde_json::json!({
        "cohorts": report.outcomes_by_cohort,
        "controlled": report.controlled_outcomes_by_cohort,
        "all": report.all_cohorts,
        "comparison": report.comparison_completers,
        "orders": report.orders_by_period,
    })
    .to_string();
    (
        rows::<ProgressProjection>(pool).await,
        rows::<ComplianceProjection>(pool).await,
        rows::<OutcomesProjection>(pool).await,
        figures,
    )
}

#[tokio::test]
async fn a_restored_backup_rebuilds_to_the_same_views_and_numbers() {
    let source = TestDb::new().await;
    let sealed = source.store.clone().with_master_key(master_key());
    import_pilot(&sealed).await;
    sealed
        .vault()
        .unwrap()
        .put_identity(
            "S030001",
            &serde_json::json!({"names": ["Restored Person"]}),
        )
        .await
        .unwrap();
    desist_projections::catch_up_all(source.store.db())
        .await
        .unwrap();
    let before = snapshot(source.store.db()).await;

    let target = backed_up_and_restored(&source).await;

    let after = snapshot(target.store.db()).await;
    assert!(before.0 == after.0, "progress differs");
    assert!(before.1 == after.1, "compliance differs");
    assert!(before.2 == after.2, "outcome facts differ");
    assert_eq!(before.3, after.3, "outcome numbers differ");
    // The restored store passes the start-up guard and its keys still open the vault.
    desist_store::horizon::check_xid_horizon(target.store.db())
        .await
        .expect("no xid ahead of the counter");
    let vault = desist_store::sealing::KeyVault::new(target.store.db().clone(), master_key());
    let identity = vault.identity("S030001").await.unwrap();
    assert!(format!("{identity:?}").contains("Restored Person"));
    // A second restore into a store that has events is refused.
    let again = desist(&["restore", "/dev/null"], &target.url);
    assert!(!again.status.success());
}

/// Runs the `desist` binary against the database at `url`.
fn desist(args: &[&str], url: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_desist"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap()
}

/// `desist backup` of `source`, then `desist restore` of it into a new database.
async fn backed_up_and_restored(source: &TestDb) -> TestDb {
    let file = std::env::temp_dir().join(format!("{}.backup", source.name));
    let backed = desist(&["backup", file.to_str().unwrap()], &source.url);
    assert!(
        backed.status.success(),
        "{}",
        String::from_utf8_lossy(&backed.stderr)
    );
    let name = format!("desist_test_{}", uuid::Uuid::new_v4().simple());
    let restored = desist(&["restore", file.to_str().unwrap()], &database_url(&name));
    let target = TestDb::adopt(&name).await;
    let _ = std::fs::remove_file(&file);
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    target
}

#[tokio::test]
async fn a_backup_and_restore_carry_every_event_and_audit_record_over_many_pages_and_statements() {
    let source = TestDb::new().await;
    import_pilot(&source.store).await;
    // More records, and more subjects' rows, than one of the restore's statements holds, and
    // more records than a page of the backup's.
    let db = source.store.db();
    desist_store::db::query(
        "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5100)
         INSERT INTO audit_log (at, actor_id, role, agency, operation, purpose, correlation_id)
         SELECT $1, 'om-' || i, 'probation_officer', 'surrey', 'caseload', 'supervision', 'c' || i
           FROM n",
    )
    .bind(chrono::Utc::now())
    .execute(db.writer())
    .await
    .unwrap();
    desist_store::db::query(
        "INSERT INTO audit_subjects (audit_id, subject_id)
         SELECT id, 'S03000' || k FROM audit_log, (SELECT 1 AS k UNION ALL SELECT 2) AS ks",
    )
    .execute(db.writer())
    .await
    .unwrap();
    let tables = async |db: &Db| {
        let mut all = Vec::new();
        for table in ["events", "audit_log", "audit_subjects", "subject_keys"] {
            // Feed positions are renumbered by a restore; everything else is kept.
            all.push(common::table_rows(db, table, &["tx", "global_position"]).await);
        }
        all
    };
    let before = tables(db).await;
    assert!(before[0].len() > 1_000, "{} events", before[0].len());

    let target = backed_up_and_restored(&source).await;
    let after = tables(target.store.db()).await;
    for (b, a) in before.iter().zip(&after) {
        if b != a {
            let first = b.iter().zip(a).find(|(x, y)| x != y);
            panic!("the stores differ: {first:?}");
        }
    }
    // The audit's own numbering goes on after the restored records.
    let (id,): (i64,) = desist_store::db::query_as(
        "INSERT INTO audit_log (at, actor_id, role, agency, operation, correlation_id)
         VALUES ($1, 'admin', 'admin', 'hq', 'auditLog', 'after') RETURNING id",
    )
    .bind(chrono::Utc::now())
    .fetch_one(target.store.db().writer())
    .await
    .unwrap();
    assert_eq!(id, 5_101);
}
