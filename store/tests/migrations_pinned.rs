//! Applied migrations never change: sqlx refuses to start a store whose applied migration's
//! checksum differs from the file, so editing one (even a comment) breaks every existing data
//! directory. Each file's SHA-256 is pinned here; a new migration gets a new line, an old one
//! never a new hash.

use sha2::{Digest, Sha256};

const PINNED: &[(&str, &str)] = &[
    (
        "postgres/0001_event_store.sql",
        "87afacb8a6e81f99e3a8852164433e86db7b0728c3b4027073d8b5b30b255185",
    ),
    (
        "postgres/0100_reminder_outbox.sql",
        "f500ca7cd99a1b19f4e385a59f88d39b97a2e10d04a94830e92ff0103bfca9b8",
    ),
    (
        "postgres/0200_http_accounts.sql",
        "4a74def3cbf8273835344c174ab2960e52c1bf59aee39507f61097e8be20808e",
    ),
    (
        "postgres/0210_http_idempotency_lease.sql",
        "86e69d37e3213b0b09438fe4d245e37c7aec66c4ba00c878f99de03fa49cf44b",
    ),
    (
        "postgres/0300_projections.sql",
        "92cd19dc99a99f2b6e42fcfabdf5a11467365ba979424fbf35903898930d69ed",
    ),
    (
        "postgres/0400_audit_digests.sql",
        "a5f4ee4de600e5bf50d84bf31579c92e975452f938520b687bd3b3d8bd124e8d",
    ),
    (
        "sqlite/0001_event_store.sql",
        "90478954c48473684b8d878b97df5fe83ad66a718707fbdc14d6eaeaf9257d74",
    ),
    (
        "sqlite/0100_reminder_outbox.sql",
        "9c06ce8cf74f864a80008583aad4ef813955792eb220ffc3261718e7aecab9c6",
    ),
    (
        "sqlite/0200_http_accounts.sql",
        "51b090e1f2fb6fd617849bb8845dfb4788eeefedcbdb0e14a36dc579a54ca7bd",
    ),
    (
        "sqlite/0210_http_idempotency_lease.sql",
        "a8c6cea3e239cca23d08e0ee5701eba924f675e5e64d370a28331e58f10bdfb9",
    ),
    (
        "sqlite/0300_projections.sql",
        "05656455aad9bf90c6a6f27068e9a3112f2d4988150ae70ae7852725d1be3f41",
    ),
    (
        "sqlite/0400_audit_digests.sql",
        "a6a74838830f2f56ecd05489f456917d381b09de0c8ebd8fba1d86ebff98d286",
    ),
];

#[test]
fn applied_migrations_are_never_edited() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut on_disk = Vec::new();
    for backend in ["postgres", "sqlite"] {
        for entry in std::fs::read_dir(dir.join(backend)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            on_disk.push(format!("{backend}/{name}"));
        }
    }
    on_disk.sort();
    for file in &on_disk {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let hash = hex::encode(Sha256::digest(&bytes));
        match PINNED.iter().find(|(f, _)| f == file) {
            Some((_, pinned)) => assert_eq!(
                &hash, pinned,
                "{file} was edited after it was released: existing stores would refuse to start; \
                 put the change in a new migration"
            ),
            None => panic!("{file} is new: pin its hash in this test ({hash})"),
        }
    }
    assert_eq!(
        on_disk.len(),
        PINNED.len(),
        "a pinned migration was removed: {on_disk:?}"
    );
}
