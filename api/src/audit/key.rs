//! The installation's Ed25519 key: created in the data directory on first start (file mode
//! 0600, refused if anyone else may read it), used to sign audit digests and exports. The
//! public key is published (`subsidy audit key`); verifiers need nothing else.

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "audit-ed25519.key";

/// What went wrong with the key file or a published key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or create the audit key {}: {reason}", path.display())]
    Io { path: PathBuf, reason: String },
    #[error("the audit key {} is readable or writable by others (mode {mode:o}); run `chmod 600` on it", path.display())]
    Permissions { path: PathBuf, mode: u32 },
    #[error("the audit key {} is not 64 hexadecimal digits (an Ed25519 seed)", path.display())]
    Malformed { path: PathBuf },
    #[error("{0:?} is not an Ed25519 public key: expected 64 hexadecimal digits")]
    BadPublicKey(String),
}

/// The installation key pair.
pub struct InstallationKey {
    signing: SigningKey,
    /// Where it is kept.
    pub path: PathBuf,
    /// Whether this call created it.
    pub created: bool,
}

impl std::fmt::Debug for InstallationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstallationKey")
            .field("public", &self.public_hex())
            .field("path", &self.path)
            .finish()
    }
}

impl InstallationKey {
    /// Loads `<data_dir>/audit-ed25519.key`, creating it (and the directory) with a fresh random
    /// key and mode 0600 when it does not exist.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, KeyError> {
        let path = data_dir.join(KEY_FILE);
        let io = |e: std::io::Error| KeyError::Io {
            path: path.clone(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(data_dir).map_err(io)?;
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                check_permissions(&path)?;
                let seed: [u8; 32] = hex::decode(text.trim())
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| KeyError::Malformed { path: path.clone() })?;
                Ok(Self {
                    signing: SigningKey::from_bytes(&seed),
                    path,
                    created: false,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut seed = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                match options.open(&path) {
                    Ok(mut file) => {
                        file.write_all(format!("{}\n", hex::encode(seed)).as_bytes())
                            .and_then(|_| file.sync_all())
                            .map_err(io)?;
                        Ok(Self {
                            signing: SigningKey::from_bytes(&seed),
                            path,
                            created: true,
                        })
                    }
                    // Another process created it first: use that one.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(data_dir)
                    }
                    Err(e) => Err(io(e)),
                }
            }
            Err(e) => Err(io(e)),
        }
    }

    /// A key from a seed (tests).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(&seed),
            path: PathBuf::new(),
            created: false,
        }
    }

    /// The public key.
    pub fn public(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// The public key as 64 lowercase hex digits (what `--key` takes).
    pub fn public_hex(&self) -> String {
        hex::encode(self.public().as_bytes())
    }

    /// `SHA256:` and the hex SHA-256 of the 32 public-key bytes.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.public())
    }

    /// An Ed25519 signature of `message`, as 128 hex digits.
    pub fn sign_hex(&self, message: &[u8]) -> String {
        hex::encode(self.signing.sign(message).to_bytes())
    }
}

/// `SHA256:<hex>` of a public key's 32 bytes.
pub fn fingerprint(key: &VerifyingKey) -> String {
    format!("SHA256:{}", hex::encode(Sha256::digest(key.as_bytes())))
}

/// A public key from 64 hex digits.
pub fn parse_public(text: &str) -> Result<VerifyingKey, KeyError> {
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| KeyError::BadPublicKey(text.to_string()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::BadPublicKey(text.to_string()))
}

/// Whether `signature_hex` is `key`'s signature of `message` (strict Ed25519 verification).
pub fn verify_hex(key: &VerifyingKey, message: &[u8], signature_hex: &str) -> bool {
    let Some(bytes) = hex::decode(signature_hex)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
    else {
        return false;
    };
    let signature = Signature::from_bytes(&bytes);
    key.verify_strict(message, &signature).is_ok() && key.verify(message, &signature).is_ok()
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| KeyError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions {
            path: path.to_path_buf(),
            mode: mode & 0o777,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path) -> Result<(), KeyError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_with_mode_0600_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let first = InstallationKey::load_or_create(dir.path()).unwrap();
        assert!(first.created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&first.path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = InstallationKey::load_or_create(dir.path()).unwrap();
        assert!(!again.created);
        assert_eq!(again.public_hex(), first.public_hex());
        assert_eq!(again.fingerprint(), first.fingerprint());
        assert_eq!(first.fingerprint().len(), "SHA256:".len() + 64);
        let signature = first.sign_hex(b"message");
        let public = parse_public(&first.public_hex()).unwrap();
        assert!(verify_hex(&public, b"message", &signature));
        assert!(!verify_hex(&public, b"messagf", &signature));
        let other = InstallationKey::from_seed([7; 32]);
        assert!(!verify_hex(&other.public(), b"message", &signature));
    }

    #[cfg(unix)]
    #[test]
    fn a_key_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = InstallationKey::load_or_create(dir.path()).unwrap();
        std::fs::set_permissions(&key.path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = InstallationKey::load_or_create(dir.path()).unwrap_err();
        assert!(
            matches!(error, KeyError::Permissions { mode: 0o644, .. }),
            "{error}"
        );
    }

    #[test]
    fn a_malformed_key_file_or_public_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options
            .open(&path)
            .unwrap()
            .write_all(b"not hex\n")
            .unwrap();
        assert!(matches!(
            InstallationKey::load_or_create(dir.path()),
            Err(KeyError::Malformed { .. })
        ));
        assert!(parse_public("abcd").is_err());
    }
}
