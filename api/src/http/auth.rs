//! Accounts, roles, log-in sessions and who may do what.
//!
//! Passwords are hashed with Argon2id (PHC strings); tokens are 32 random bytes, handed to the
//! client once and stored only as their SHA-256. A bearer token goes in `Authorization: Bearer`;
//! a browser session uses the `subsidy_session` cookie (HttpOnly) plus CSRF protection by double
//! submit: unsafe requests must repeat the session's CSRF token (also in the readable
//! `subsidy_csrf` cookie) in the `X-CSRF-Token` header, and it is compared with the stored one.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{web, FromRequest, HttpRequest};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::Utc;
use domain::JurisdictionCode;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::db::{db_execute, db_fetch_all, db_fetch_optional, is_unique_violation, timestamp, Db};
use super::errors::ApiError;
use super::AppState;

pub const SESSION_COOKIE: &str = "subsidy_session";
pub const CSRF_COOKIE: &str = "subsidy_csrf";
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Acts on projects in its jurisdictions (registration, plans, notices, reports, payments).
    Officer,
    /// Reads everything below its grants; reviews plans, approves funds, inspects, evaluates,
    /// orders clawbacks, suspends, terminates and closes.
    Supervisor,
    /// Reads everything in scope, histories included; changes nothing.
    Auditor,
    /// Manages accounts; has no access to projects.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Officer, Role::Supervisor, Role::Auditor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Supervisor => "supervisor",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role reads projects (within its jurisdictions).
    pub fn reads_projects(self) -> bool {
        !matches!(self, Role::Admin)
    }
}

/// An account as the API and the CLI show it (never with its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub username: String,
    pub role: Role,
    #[schema(value_type = Vec<String>)]
    pub jurisdictions: Vec<JurisdictionCode>,
    pub disabled: bool,
}

impl User {
    /// Whether one of the account's grants covers `code` (a city grant covers its counties).
    pub fn covers(&self, code: &JurisdictionCode) -> bool {
        self.jurisdictions.iter().any(|g| g.covers(code))
    }
}

/// Why an account could not be created or changed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(
        "the user name must be 3–64 characters of letters, digits, '.', '-' or '_', got '{0}'"
    )]
    BadUsername(String),
    #[error("the password must be at least 8 characters")]
    WeakPassword,
    #[error("an account named '{0}' already exists")]
    Exists(String),
    #[error("there is no account named '{0}'")]
    Unknown(String),
    #[error("a {0} needs at least one jurisdiction (GB/T 2260 code)")]
    NoJurisdiction(&'static str),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the account database failed: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Exists(_) => ApiError::Conflict {
                code: "account.exists",
                detail: e.to_string(),
            },
            AccountError::Unknown(_) => ApiError::NotFound(e.to_string()),
            AccountError::Database(e) => e.into(),
            AccountError::Hash(_) => ApiError::Internal(e.to_string()),
            _ => ApiError::Unprocessable {
                code: "account.invalid",
                detail: e.to_string(),
            },
        }
    }
}

/// Hashes a password with Argon2id and a random salt (a PHC string).
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A valid hash of nothing anyone knows, checked against for unknown user names.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| hash_password(&random_token()).unwrap_or_default())
        .clone()
}

/// A fresh random secret, as 64 hex digits.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// How a session was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Bearer,
    Cookie,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::Bearer => "bearer",
            SessionKind::Cookie => "cookie",
        }
    }
}

/// A newly opened session: the secret token (shown once), its CSRF token and expiry.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: Option<String>,
    pub expires_at: chrono::DateTime<Utc>,
}

type UserRow = (String, String, String, String, i64);

fn user_from_row((username, _hash, role, jurisdictions, disabled): UserRow) -> User {
    User {
        username,
        role: Role::parse(&role).unwrap_or(Role::Auditor),
        // Codes were validated when the account was created.
        jurisdictions: jurisdictions
            .split(',')
            .filter(|s| !s.is_empty())
            .filter_map(|s| JurisdictionCode::parse(s).ok())
            .collect(),
        disabled: disabled != 0,
    }
}

/// The account store on the event store's database.
#[derive(Clone, Debug)]
pub struct Accounts {
    db: Db,
}

impl Accounts {
    pub fn new(store: &store::Store) -> Self {
        Self { db: Db::of(store) }
    }

    /// Creates an account. Argon2 is deliberately slow, so call this off the async executor
    /// when serving requests (the HTTP handler uses `web::block`-style spawning).
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
        jurisdictions: &[JurisdictionCode],
    ) -> Result<User, AccountError> {
        let valid_name = (3..=64).contains(&username.len())
            && username
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !valid_name {
            return Err(AccountError::BadUsername(username.to_string()));
        }
        if password.chars().count() < 8 {
            return Err(AccountError::WeakPassword);
        }
        if role != Role::Admin && jurisdictions.is_empty() {
            return Err(AccountError::NoJurisdiction(role.as_str()));
        }
        let password = password.to_string();
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| AccountError::Hash(e.to_string()))??;
        let codes = jurisdictions
            .iter()
            .map(|j| j.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let inserted = db_execute!(
            &self.db,
            "INSERT INTO http_users (username, password_hash, role, jurisdictions, disabled, created_at) VALUES (?, ?, ?, ?, 0, ?)",
            username,
            hash,
            role.as_str(),
            codes,
            timestamp(Utc::now()),
        );
        match inserted {
            Ok(_) => Ok(User {
                username: username.to_string(),
                role,
                jurisdictions: jurisdictions.to_vec(),
                disabled: false,
            }),
            Err(e) if is_unique_violation(&e) => Err(AccountError::Exists(username.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_users(&self) -> Result<Vec<User>, AccountError> {
        let rows = db_fetch_all!(
            &self.db,
            UserRow,
            "SELECT username, password_hash, role, jurisdictions, disabled FROM http_users ORDER BY username",
        )?;
        Ok(rows.into_iter().map(user_from_row).collect())
    }

    pub async fn count_users(&self) -> Result<usize, AccountError> {
        Ok(self.list_users().await?.len())
    }

    /// Disables an account and ends all its sessions.
    pub async fn disable_user(&self, username: &str) -> Result<(), AccountError> {
        let n = db_execute!(
            &self.db,
            "UPDATE http_users SET disabled = 1 WHERE username = ?",
            username
        )?;
        if n == 0 {
            return Err(AccountError::Unknown(username.to_string()));
        }
        db_execute!(
            &self.db,
            "DELETE FROM http_sessions WHERE username = ?",
            username
        )?;
        Ok(())
    }

    /// The account if `password` is right and the account is enabled. The hash is checked even
    /// for unknown names (against a dummy), so timing does not tell which names exist.
    pub async fn check_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, AccountError> {
        let row = db_fetch_optional!(
            &self.db,
            UserRow,
            "SELECT username, password_hash, role, jurisdictions, disabled FROM http_users WHERE username = ?",
            username,
        )?;
        let phc = row.as_ref().map(|r| r.1.clone()).unwrap_or_else(dummy_hash);
        let password = password.to_string();
        let ok = tokio::task::spawn_blocking(move || verify_password(&password, &phc))
            .await
            .unwrap_or(false);
        Ok(match row {
            Some(row) if ok && row.4 == 0 => Some(user_from_row(row)),
            _ => None,
        })
    }

    /// Opens a session for `username` valid for `ttl`.
    pub async fn open_session(
        &self,
        username: &str,
        kind: SessionKind,
        ttl: Duration,
    ) -> Result<NewSession, AccountError> {
        let token = random_token();
        let csrf_token = (kind == SessionKind::Cookie).then(random_token);
        let now = Utc::now();
        let expires_at =
            now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(8));
        db_execute!(
            &self.db,
            "INSERT INTO http_sessions (token_hash, username, kind, csrf_token, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            token_hash(&token),
            username,
            kind.as_str(),
            csrf_token.clone(),
            timestamp(expires_at),
            timestamp(now),
        )?;
        Ok(NewSession {
            token,
            csrf_token,
            expires_at,
        })
    }

    /// The enabled account behind an unexpired token, with the session's kind and CSRF token.
    pub async fn session(
        &self,
        token: &str,
    ) -> Result<Option<(User, SessionKind, Option<String>)>, AccountError> {
        type Row = (String, String, String, String, i64, String, Option<String>);
        let row = db_fetch_optional!(
            &self.db,
            Row,
            "SELECT u.username, u.password_hash, u.role, u.jurisdictions, u.disabled, s.kind, s.csrf_token \
             FROM http_sessions s JOIN http_users u ON u.username = s.username \
             WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled = 0",
            token_hash(token),
            timestamp(Utc::now()),
        )?;
        Ok(row.map(|(u, h, r, j, d, kind, csrf)| {
            let kind = if kind == "cookie" {
                SessionKind::Cookie
            } else {
                SessionKind::Bearer
            };
            (user_from_row((u, h, r, j, d)), kind, csrf)
        }))
    }

    pub async fn close_session(&self, token: &str) -> Result<(), AccountError> {
        db_execute!(
            &self.db,
            "DELETE FROM http_sessions WHERE token_hash = ?",
            token_hash(token)
        )?;
        Ok(())
    }
}

/// A log-in attempt's identity for the per-account limit: the user name and the client address.
type LimiterKey = (String, Option<IpAddr>);

/// Failed log-ins in a sliding minute, counted twice: per (user name, client address), so that
/// guessing one account's password is slow while a stranger's failures elsewhere do not lock
/// the owner out from their own address; and per client address over all names, so that one
/// address cannot try many names either. A success clears only its own (name, address) count:
/// logging in to an account one owns does not reset the address's count. In memory: a restart
/// forgets the counts, and several server processes would each allow the limits. The address
/// is the TCP peer: behind a reverse proxy every client shares the proxy's address.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<Failures>,
}

#[derive(Debug, Default)]
struct Failures {
    by_account: HashMap<LimiterKey, Vec<Instant>>,
    by_address: HashMap<Option<IpAddr>, Vec<Instant>>,
}

/// `Err(seconds until the oldest failure leaves the window)` when `times` holds `max` or more
/// failures of the last window (older ones are dropped).
fn over_limit(times: &mut Vec<Instant>, now: Instant, max: usize) -> Result<(), u64> {
    times.retain(|t| now.duration_since(*t) < LoginLimiter::WINDOW);
    if times.len() >= max {
        let oldest = times[times.len() - max];
        let wait = LoginLimiter::WINDOW.saturating_sub(now.duration_since(oldest));
        return Err(wait.as_secs().max(1));
    }
    Ok(())
}

impl LoginLimiter {
    /// Failed log-ins per minute for one user name from one address.
    pub const MAX_FAILURES: usize = 5;
    /// Failed log-ins per minute from one address, whatever the names.
    pub const MAX_FAILURES_PER_ADDRESS: usize = 20;
    pub const WINDOW: Duration = Duration::from_secs(60);
    /// Above this many tracked keys, keys without a recent failure are forgotten.
    const PRUNE_ABOVE: usize = 10_000;

    /// `Err(seconds to wait)` when either limit is reached.
    pub fn check(&self, username: &str, ip: Option<IpAddr>) -> Result<(), u64> {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let address = f.by_address.get_mut(&ip).map_or(Ok(()), |t| {
            over_limit(t, now, Self::MAX_FAILURES_PER_ADDRESS)
        });
        let account = f
            .by_account
            .get_mut(&(username.to_string(), ip))
            .map_or(Ok(()), |t| over_limit(t, now, Self::MAX_FAILURES));
        match (address, account) {
            (Err(a), Err(b)) => Err(a.max(b)),
            (Err(wait), _) | (_, Err(wait)) => Err(wait),
            _ => Ok(()),
        }
    }

    pub fn record_failure(&self, username: &str, ip: Option<IpAddr>) {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if f.by_account.len() > Self::PRUNE_ABOVE || f.by_address.len() > Self::PRUNE_ABOVE {
            let recent = |times: &Vec<Instant>| {
                times
                    .last()
                    .is_some_and(|t| now.duration_since(*t) < Self::WINDOW)
            };
            f.by_account.retain(|_, times| recent(times));
            f.by_address.retain(|_, times| recent(times));
        }
        f.by_account
            .entry((username.to_string(), ip))
            .or_default()
            .push(now);
        f.by_address.entry(ip).or_default().push(now);
    }

    /// After a successful log-in: forgets that name's failures from that address (not the
    /// address's failures on other names).
    pub fn clear(&self, username: &str, ip: Option<IpAddr>) {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        f.by_account.remove(&(username.to_string(), ip));
    }
}

/// Whether `sent` (the `X-CSRF-Token` header of an API call, or the `csrf_token` field of a
/// page's HTML form) is the session's CSRF token. A session without one (bearer) never matches.
pub fn csrf_matches(expected: Option<&str>, sent: Option<&str>) -> bool {
    match (expected, sent) {
        (Some(expected), Some(sent)) => {
            // Compared in constant time: the comparison must not tell how much of it is right.
            expected.len() == sent.len()
                && expected
                    .bytes()
                    .zip(sent.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        }
        _ => false,
    }
}

/// The cookie session of a browser request (the pages): the principal and the session's CSRF
/// token, or `None` without a valid cookie session. The pages check the token of their forms
/// with [`csrf_matches`], as the API checks the header.
pub async fn cookie_session(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<(Principal, String)>, ApiError> {
    let Some(cookie) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let token = cookie.value().to_string();
    Ok(match state.accounts.session(&token).await? {
        Some((user, SessionKind::Cookie, Some(csrf))) => Some((Principal { user, token }, csrf)),
        _ => None,
    })
}

/// The authenticated user of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    /// The presented token (to close the session on log-out).
    pub token: String,
}

impl Principal {
    pub fn require_role(&self, allowed: &[Role], action: &str) -> Result<(), ApiError> {
        if allowed.contains(&self.user.role) {
            Ok(())
        } else {
            tracing::warn!(user = ?self.user.username, role = self.user.role.as_str(), action, "refused: role not allowed");
            Err(ApiError::Forbidden(format!(
                "the {} role may not {action}",
                self.user.role.as_str()
            )))
        }
    }
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| ApiError::Internal("application state missing".into()))?
                .clone();
            let bearer = req
                .headers()
                .get(actix_web::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer ").map(str::trim).map(String::from));
            let (token, from_cookie) = match bearer {
                Some(t) => (t, false),
                None => match req.cookie(SESSION_COOKIE) {
                    Some(c) => (c.value().to_string(), true),
                    None => return Err(ApiError::Unauthorized(
                        "log in first: send 'Authorization: Bearer <token>' from POST /auth/login"
                            .into(),
                    )),
                },
            };
            let Some((user, kind, csrf)) = state.accounts.session(&token).await? else {
                return Err(ApiError::Unauthorized(
                    "the token is unknown, expired or its account is disabled; log in again".into(),
                ));
            };
            if from_cookie && kind != SessionKind::Cookie {
                return Err(ApiError::Unauthorized(
                    "this token is not a cookie session".into(),
                ));
            }
            let unsafe_method =
                !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
            if from_cookie && unsafe_method {
                let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
                if !csrf_matches(csrf.as_deref(), sent) {
                    tracing::warn!(user = ?user.username, "refused: missing or wrong CSRF token");
                    return Err(ApiError::Forbidden(format!(
                        "a cookie session must send its CSRF token in the {CSRF_HEADER} header"
                    )));
                }
            }
            Ok(Principal { user, token })
        })
    }
}
