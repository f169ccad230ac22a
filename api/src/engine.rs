//! The engine: the store, the programme registry and the aggregate's services, wired once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use domain::{CommandContext, ProjectCommand, ProjectError, ProjectServices, SubsidyProject};
use store::{Committed, ExecuteError, Store};
use workflows::programme::ProgrammeRegistry;

/// Where the data lives: the embedded SQLite file in the data directory unless a
/// `postgres://` URL is given.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    /// A streaming replica for the server's read side (`serve` only).
    pub read_database_url: Option<String>,
}

impl Settings {
    pub fn store_url(&self) -> Result<String, EngineError> {
        match &self.database_url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(url.clone())
            }
            Some(url) if url.starts_with("sqlite:") => Ok(url.clone()),
            Some(other) => Err(EngineError::BadDatabaseUrl(redact(other))),
            None => {
                std::fs::create_dir_all(&self.data_dir).map_err(|e| EngineError::DataDir {
                    dir: self.data_dir.clone(),
                    reason: e.to_string(),
                })?;
                Ok(format!(
                    "sqlite://{}?mode=rwc",
                    self.data_dir.join(store::SQLITE_FILE_NAME).display()
                ))
            }
        }
    }

    /// Extra programme definitions an admin dropped into `<data-dir>/programmes/`.
    pub fn programmes_dir(&self) -> PathBuf {
        self.data_dir.join("programmes")
    }
}

/// Hides a password in a connection string before it is printed.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("unsupported database URL '{0}': use postgres://… or leave it out for the embedded SQLite file")]
    BadDatabaseUrl(String),
    #[error("cannot create the data directory {}: {reason}", dir.display())]
    DataDir { dir: PathBuf, reason: String },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Definition(#[from] workflows::programme::DefinitionError),
    #[error(transparent)]
    Programmes(#[from] crate::programmes::PublishError),
}

#[derive(Clone)]
pub struct Engine {
    pub store: Store,
    pub services: Arc<ProjectServices>,
    /// The last position of a `programme/<id>` event this process has taken in (shared by the
    /// clones): [`Engine::refresh_programmes`] reads the programme streams only when it moved.
    pub(crate) programmes_seen: Arc<std::sync::atomic::AtomicI64>,
}

impl Engine {
    /// Opens the store (running migrations) with the shipped programme definitions plus any in
    /// the data directory's `programmes/` folder.
    pub async fn open(settings: &Settings) -> Result<Self, EngineError> {
        let url = settings.store_url()?;
        let store = Store::connect(&url).await?;
        let mut programmes = ProgrammeRegistry::builtin();
        let dir = settings.programmes_dir();
        if dir.is_dir() {
            programmes = programmes.with_dir(&dir)?;
        }
        let engine = Self::with_store(store, programmes);
        // The calendar years recorded in the store (`subsidy calendar load`).
        engine.refresh_calendar().await?;
        // Every definition in force here recorded in the store (the shipped ones at its first
        // start), and the versions published or withdrawn there (`subsidy programmes publish`).
        engine.publish_in_force().await?;
        Ok(engine)
    }

    pub fn with_store(store: Store, programmes: ProgrammeRegistry) -> Self {
        Self {
            store,
            services: Arc::new(ProjectServices::new(programmes)),
            programmes_seen: Arc::new(std::sync::atomic::AtomicI64::new(-1)),
        }
    }

    /// The runtime of the persisted read models over this engine's store.
    pub fn projections(&self) -> projections::Runtime {
        projections::Runtime::standard(
            &self.store,
            self.programmes(),
            self.services.calendar.clone(),
        )
    }

    pub fn programmes(&self) -> &ProgrammeRegistry {
        &self.services.programmes
    }

    /// Executes a command on a project; `expected_version` makes it conditional (If-Match).
    pub async fn execute(
        &self,
        project_id: &str,
        context: &CommandContext,
        command: ProjectCommand,
        expected_version: Option<usize>,
    ) -> Result<Committed<SubsidyProject>, ExecuteError<ProjectError>> {
        self.execute_with_metadata(project_id, context, command, expected_version, &[])
            .await
    }

    /// [`Engine::execute`] with extra metadata on every appended event (e.g. the HTTP API's
    /// idempotency key); the context's keys (actor, evidence, command) win over extra ones.
    pub async fn execute_with_metadata(
        &self,
        project_id: &str,
        context: &CommandContext,
        command: ProjectCommand,
        expected_version: Option<usize>,
        extra: &[(&str, String)],
    ) -> Result<Committed<SubsidyProject>, ExecuteError<ProjectError>> {
        // The actor and the evidence go into every event's metadata: checked like the command.
        domain::validate::check_context(context).map_err(ExecuteError::Rejected)?;
        if command.kind() == domain::CommandKind::RegisterProject {
            // A version published or withdrawn by another process since this one looked.
            self.refresh_programmes()
                .await
                .map_err(ExecuteError::Store)?;
        }
        let mut metadata: std::collections::HashMap<String, String> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        metadata.extend(context.to_metadata(&format!("{:?}", command.kind())));
        self.store
            .execute::<SubsidyProject>(
                project_id,
                command,
                &self.services,
                metadata,
                expected_version,
            )
            .await
    }

    /// Registers a new project under a fresh identifier and returns it.
    pub async fn register(
        &self,
        context: &CommandContext,
        command: ProjectCommand,
    ) -> Result<String, ExecuteError<ProjectError>> {
        let id = uuid::Uuid::now_v7().to_string();
        self.execute(&id, context, command, Some(0)).await?;
        Ok(id)
    }

    pub async fn load(
        &self,
        project_id: &str,
    ) -> Result<(SubsidyProject, usize), store::StoreError> {
        self.store.load::<SubsidyProject>(project_id).await
    }
}

/// Whether a path looks like a data directory that already holds a store.
pub fn has_store(data_dir: &Path) -> bool {
    data_dir.join(store::SQLITE_FILE_NAME).exists()
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact("postgres://app:s3cret@db.example.org:5432/subsidy"),
            "postgres://app:***@db.example.org:5432/subsidy"
        );
        assert_eq!(
            redact("postgres://app@127.0.0.1/x"),
            "postgres://app@127.0.0.1/x"
        );
    }
}
