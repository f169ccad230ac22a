//! Audit (issue 11): the installation's Ed25519 key ([`key`]), signed digests of every
//! project's chain head in an RFC 6962 Merkle tree with inclusion and consistency proofs
//! ([`digest`], tables of store migration 0400), signed exports ([`export`]) and their offline
//! verification ([`verify`]), and the same checks on the live database ([`verify_store`]). `subsidy audit …` is [`cli`].

pub mod check;
pub mod cli;
pub mod digest;
pub mod export;
pub mod key;
pub mod replay;
pub mod verify;
pub mod verify_store;

/// The daily digest of `subsidy serve`: once an hour, records a digest unless one was recorded
/// on the same Asia/Shanghai day. Ends when `stop` resolves.
pub async fn daily_digests(
    store: store::Store,
    key: std::sync::Arc<key::InstallationKey>,
    stop: impl std::future::Future<Output = ()>,
) {
    use chrono::Utc;
    tokio::pin!(stop);
    loop {
        let today = Utc::now()
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .date_naive();
        let db = crate::http::db::Db::of(&store);
        let due = match digest::list(&db).await {
            Ok(all) => all.last().is_none_or(|d| {
                chrono::DateTime::parse_from_rfc3339(&d.created_at)
                    .map(|t| t.with_timezone(&chrono_tz::Asia::Shanghai).date_naive() < today)
                    .unwrap_or(true)
            }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the audit digests");
                false
            }
        };
        if due {
            match digest::record(&store, &key, Utc::now()).await {
                Ok(d) => {
                    tracing::info!(id = d.id, position = d.position, tree_size = d.tree_size, root = %d.root, "recorded the daily audit digest")
                }
                Err(e) => tracing::error!(error = %e, "cannot record the daily audit digest"),
            }
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
        }
    }
}
