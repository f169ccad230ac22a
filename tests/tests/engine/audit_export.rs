//! Signed audit digests, proofs, exports and offline verification (issue 11), on both backends:
//! the demo data set, digests before and after more commands, an UPDATE and a DELETE behind
//! the engine's back, and an export file tampered with in each way an auditor must catch.

use std::sync::Arc;

use api::audit::digest::{self, leaf_bytes, DigestError};
use api::audit::export::{self, Scope};
use api::audit::key::{parse_public, verify_hex, InstallationKey};
use api::audit::verify::{verify, Problem};
use api::http::db::Db;
use api::Engine;
use chrono::{DateTime, Utc};
use store::merkle;
use store::FixedClock;
use tests::{on_both_backends, Kind, TestDb};
use workflows::programme::ProgrammeRegistry;

fn now() -> DateTime<Utc> {
    "2026-12-01T02:00:00Z".parse().unwrap()
}

async fn demo_engine(db: &TestDb) -> Engine {
    let clock = Arc::new(FixedClock::new("2021-03-01T01:00:00Z".parse().unwrap()));
    let engine = Engine::with_store(
        db.store.clone().with_clock(clock),
        ProgrammeRegistry::builtin(),
    );
    api::demo::load(&engine).await.expect("the demo data loads");
    engine
}

/// Digests sign every project's head; proofs verify against the signed roots; a later digest
/// extends the earlier; tampering behind the engine's back makes the next digest refuse,
/// naming the project.
async fn digests_sign_every_chain_head_and_prove_inclusion_and_consistency(kind: Kind) {
    let db = TestDb::new(kind).await;
    let engine = demo_engine(&db).await;
    let key = InstallationKey::from_seed([11; 32]);
    let dbh = Db::of(&engine.store);

    let first = digest::record(&engine.store, &key, now()).await.unwrap();
    let projects = engine.store.aggregate_ids("SubsidyProject").await.unwrap();
    assert_eq!(first.id, 1);
    assert_eq!(
        first.tree_size as usize,
        projects.len(),
        "one leaf per project"
    );
    assert_eq!(first.position, engine.store.last_position().await.unwrap());
    assert!(verify_hex(
        &key.public(),
        first.signed_message().as_bytes(),
        &first.signature
    ));

    // Every project's inclusion proof verifies against the signed root, and its leaf is the
    // project's real chain head.
    let root1 = merkle::from_hex(&first.root).unwrap();
    for project in &projects {
        let proof = digest::inclusion(&dbh, 1, project).await.unwrap();
        let events = engine
            .store
            .read_stream("SubsidyProject", project)
            .await
            .unwrap();
        let head = events.last().unwrap();
        assert_eq!(
            (proof.leaf.sequence, &proof.leaf.head_hash),
            (head.sequence, &head.hash)
        );
        let path: Vec<_> = proof
            .proof
            .iter()
            .map(|h| merkle::from_hex(h).unwrap())
            .collect();
        let leaf = merkle::leaf_hash(&leaf_bytes(project, head.sequence, &head.hash));
        merkle::verify_inclusion(
            proof.leaf.index as u64,
            first.tree_size as u64,
            &leaf,
            &path,
            &root1,
        )
        .unwrap();
        // A different head hash for the same project does not verify.
        let forged = merkle::leaf_hash(&leaf_bytes(project, head.sequence, &"0".repeat(64)));
        assert!(merkle::verify_inclusion(
            proof.leaf.index as u64,
            first.tree_size as u64,
            &forged,
            &path,
            &root1
        )
        .is_err());
    }
    assert!(matches!(
        digest::inclusion(&dbh, 1, "no-such-project").await,
        Err(DigestError::NotInDigest { .. })
    ));

    // One more project: the next digest appends exactly one leaf, its chain head.
    let target = engine
        .register(
            &domain::CommandContext::new("officer.audit-test"),
            domain::ProjectCommand::RegisterProject {
                name: "审计测试项目".to_string(),
                programme_id: domain::fixtures::VILLAGES_2021.to_string(),
                programme_version: 1,
                jurisdiction: domain::JurisdictionCode::parse("370323").unwrap(),
                description: String::new(),
                registered_on: domain::fixtures::date(2021, 6, 3),
            },
        )
        .await
        .expect("a registration is accepted");
    let target = &target;
    let second = digest::record(&engine.store, &key, now()).await.unwrap();
    assert_eq!(second.tree_size, first.tree_size + 1);
    let consistency = digest::consistency(&dbh, 1, 2).await.unwrap();
    let path: Vec<_> = consistency
        .proof
        .iter()
        .map(|h| merkle::from_hex(h).unwrap())
        .collect();
    let root2 = merkle::from_hex(&second.root).unwrap();
    merkle::verify_consistency(
        first.tree_size as u64,
        second.tree_size as u64,
        &root1,
        &root2,
        &path,
    )
    .unwrap();
    assert!(merkle::verify_consistency(
        first.tree_size as u64,
        second.tree_size as u64,
        &root2,
        &root1,
        &path
    )
    .is_err());
    let moved = digest::inclusion(&dbh, 2, target).await.unwrap();
    assert_eq!(
        moved.leaf.index, first.tree_size,
        "the new head is the appended leaf"
    );
    assert!(matches!(
        digest::consistency(&dbh, 2, 1).await,
        Err(DigestError::Order { .. })
    ));

    // An UPDATE behind the engine's back of a head the digest signed: the next digest refuses.
    let head = engine
        .store
        .read_stream("SubsidyProject", target)
        .await
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let sql = format!(
        "UPDATE events SET metadata = REPLACE(metadata{cast}, '\"{hash}\"', '\"{forged}\"'){back} WHERE aggregate_id = '{target}' AND sequence = {seq}",
        cast = if kind == Kind::Postgres { "::text" } else { "" },
        back = if kind == Kind::Postgres { "::json" } else { "" },
        hash = head.hash,
        forged = "f".repeat(64),
        seq = head.sequence,
    );
    assert_eq!(db.raw(&sql).await, 1);
    match digest::record(&engine.store, &key, now()).await {
        Err(DigestError::HeadRewritten {
            project, sequence, ..
        }) => {
            assert_eq!((&project, sequence), (target, head.sequence))
        }
        other => panic!("expected HeadRewritten, got {other:?}"),
    }
    // A DELETE of the last event of another project: refused, naming it.
    let other = &projects[1];
    let last = engine
        .store
        .read_stream("SubsidyProject", other)
        .await
        .unwrap()
        .last()
        .unwrap()
        .sequence;
    assert_eq!(
        db.raw(&format!(
            "DELETE FROM events WHERE aggregate_id = '{other}' AND sequence = {last}"
        ))
        .await,
        1
    );
    let refused = digest::record(&engine.store, &key, now())
        .await
        .unwrap_err();
    let text = refused.to_string();
    assert!(
        text.contains(other.as_str()) || text.contains(target.as_str()),
        "{text}"
    );
    assert_eq!(
        digest::list(&dbh).await.unwrap().len(),
        2,
        "a refused digest stores nothing"
    );
}

fn problems_of(bytes: &[u8], key: Option<&str>) -> Vec<Problem> {
    verify(std::io::Cursor::new(bytes.to_vec()), key, |_| {}).problems
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn join(lines: &[String]) -> Vec<u8> {
    let mut text = lines.join("\n");
    text.push('\n');
    text.into_bytes()
}

fn field(line: &str, key: &str) -> serde_json::Value {
    serde_json::from_str::<serde_json::Value>(line).unwrap()[key].clone()
}

/// An export verifies untouched with the published key, and every kind of tampering is
/// reported with the line, project and sequence.
async fn an_export_verifies_offline_and_every_tampering_is_named(kind: Kind) {
    let db = TestDb::new(kind).await;
    let engine = demo_engine(&db).await;
    let key = InstallationKey::from_seed([5; 32]);
    digest::record(&engine.store, &key, now()).await.unwrap();
    let out = db.dir.path().join("export.jsonl");
    let summary = export::export(&engine, &key, &Scope::default(), &out, now(), |_, _| {})
        .await
        .unwrap();
    let total = engine.store.last_position().await.unwrap();
    assert_eq!(summary.events as i64, total, "the whole store");
    let bytes = std::fs::read(&out).unwrap();
    let published = key.public_hex();
    let report = verify(
        std::io::Cursor::new(bytes.clone()),
        Some(&published),
        |_| {},
    );
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.events, summary.events);
    assert_eq!(report.digests, 1);
    let all = lines(&bytes);
    assert_eq!(
        all.len() as u64,
        summary.events + 2,
        "manifest, events, signature"
    );

    // A changed amount.
    let (i, line) = all
        .iter()
        .enumerate()
        .find(|(_, l)| l.contains("\"TrancheDisbursed\"") && l.contains("\"amount\":"))
        .expect("the demo pays tranches");
    let project = field(line, "aggregate_id").as_str().unwrap().to_string();
    let sequence = field(line, "sequence").as_i64().unwrap();
    let amount = field(line, "payload")["TrancheDisbursed"]["amount"]
        .as_i64()
        .unwrap();
    let mut changed = all.clone();
    changed[i] = line.replace(
        &format!("\"amount\":{amount}"),
        &format!("\"amount\":{}", amount + 100),
    );
    assert_ne!(changed[i], *line);
    let problems = problems_of(&join(&changed), Some(&published));
    assert!(
        problems.iter().any(|p| p.line == Some(i as u64 + 1)
            && p.project.as_deref() == Some(&project)
            && p.sequence == Some(sequence)
            && p.what.contains("altered")),
        "{problems:?}"
    );

    // A removed line (an event followed by a later one of the same project).
    let (i, line) = all
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, l)| field(l, "sequence").as_i64() == Some(2))
        .unwrap();
    let project = field(line, "aggregate_id").as_str().unwrap().to_string();
    let mut removed = all.clone();
    removed.remove(i);
    let problems = problems_of(&join(&removed), Some(&published));
    assert!(
        problems
            .iter()
            .any(|p| p.project.as_deref() == Some(&project)
                && p.sequence == Some(3)
                && p.what.contains("expected event #2")),
        "{problems:?}"
    );
    assert!(problems.iter().any(|p| p
        .what
        .contains("lines were changed, added, removed or reordered")));

    // Two lines swapped.
    let mut swapped = all.clone();
    swapped.swap(5, 6);
    let problems = problems_of(&join(&swapped), Some(&published));
    assert!(
        problems
            .iter()
            .any(|p| p.line == Some(7) && p.what.contains("lines were reordered")),
        "{problems:?}"
    );

    // A forged line inserted: a copy of an event with a new position and sequence.
    let mut forged = all.clone();
    let last_event = forged[forged.len() - 2].clone();
    let mut value: serde_json::Value = serde_json::from_str(&last_event).unwrap();
    let seq = value["sequence"].as_i64().unwrap();
    value["sequence"] = (seq + 1).into();
    value["global_position"] = (value["global_position"].as_i64().unwrap() + 1).into();
    let text = String::from_utf8(serde_json_canonicalizer::to_vec(&value).unwrap()).unwrap();
    let at = forged.len() - 1;
    forged.insert(at, text);
    let problems = problems_of(&join(&forged), Some(&published));
    assert!(
        problems.iter().any(|p| p.line == Some(at as u64 + 1)
            && p.sequence == Some(seq + 1)
            && p.what.contains("altered")),
        "{problems:?}"
    );

    // Truncated: the signature line is gone.
    let truncated = join(&all[..all.len() - 1]);
    let problems = problems_of(&truncated, Some(&published));
    assert!(
        problems
            .iter()
            .any(|p| p.what.contains("does not end with a signature line")),
        "{problems:?}"
    );

    // The manifest altered (its event count).
    let mut manifest = all.clone();
    let count = format!("\"events\":{}", summary.events);
    assert!(manifest[0].contains(&count));
    manifest[0] = manifest[0].replace(&count, &format!("\"events\":{}", summary.events - 1));
    let problems = problems_of(&join(&manifest), Some(&published));
    assert!(
        problems.iter().any(|p| p.line == Some(1)
            && p.what
                .contains(&format!("lists {} events", summary.events - 1))),
        "{problems:?}"
    );

    // Re-signed with another key: the content is intact, but the published key refuses it.
    let other = InstallationKey::from_seed([6; 32]);
    let body = join(&all[..all.len() - 1]);
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
    let resigned_line = serde_json::json!({"signature": {
        "algorithm": "ed25519", "key_fingerprint": other.fingerprint(), "public_key": other.public_hex(),
        "sha256": sha, "value": other.sign_hex(export::signed_message(&sha).as_bytes())}});
    let mut resigned = body.clone();
    resigned.extend(serde_json_canonicalizer::to_vec(&resigned_line).unwrap());
    resigned.push(b'\n');
    let problems = problems_of(&resigned, Some(&published));
    assert!(
        problems
            .iter()
            .any(|p| p.what.contains("not signed by this installation")),
        "{problems:?}"
    );
    // And the digests inside were signed by the real key, not the forger's.
    assert!(
        problems.iter().any(|p| p.what.contains("digest #1")),
        "{problems:?}"
    );
    // Verifying the untouched file with the wrong published key fails too.
    let problems = problems_of(&bytes, Some(&other.public_hex()));
    assert!(problems
        .iter()
        .any(|p| p.what.contains("not signed by this installation")));
    assert!(parse_public("not a key").is_err());

    // Every event of the untouched export was replayed through the rules.
    assert_eq!(report.replayed, summary.events, "{:?}", report.problems);

    // An event the rules refuse, recorded with a valid chain, manifest and signature (as a
    // lenient older version or an import might have): only the replay finds it.
    let mut forged = all[..all.len() - 1].to_vec();
    let mut manifest: serde_json::Value = serde_json::from_str(&forged[0]).unwrap();
    let head = manifest["manifest"]["chain_heads"][0].clone();
    let project = head["project"].as_str().unwrap().to_string();
    let head_line = forged[1..]
        .iter()
        .find(|l| {
            field(l, "aggregate_id").as_str() == Some(&project)
                && field(l, "sequence") == head["sequence"]
        })
        .unwrap()
        .clone();
    let mut metadata = field(&head_line, "metadata");
    metadata["prev_hash"] = head["hash"].clone();
    metadata["command"] = "DisburseTranche".into();
    let payload = serde_json::json!({"TrancheDisbursed": {"source": "county", "tranche": 99, "amount": 100_000_000_000i64, "paid_on": "2021-07-01"}});
    let sequence = head["sequence"].as_i64().unwrap() + 1;
    let position = manifest["manifest"]["last_position"].as_i64().unwrap() + 1;
    let hash = store::event_hash(
        "SubsidyProject",
        &project,
        sequence,
        "TrancheDisbursed",
        field(&head_line, "event_version").as_str().unwrap(),
        &payload,
        metadata.as_object().unwrap(),
    );
    metadata["hash"] = hash.clone().into();
    let event = serde_json::json!({"aggregate_id": project, "aggregate_type": "SubsidyProject",
        "event_type": "TrancheDisbursed", "event_version": field(&head_line, "event_version"),
        "global_position": position, "metadata": metadata, "payload": payload, "sequence": sequence});
    forged.push(String::from_utf8(serde_json_canonicalizer::to_vec(&event).unwrap()).unwrap());
    let m = &mut manifest["manifest"];
    m["events"] = (summary.events + 1).into();
    m["last_position"] = position.into();
    m["cut_position"] = position.into();
    m["chain_heads"][0]["sequence"] = sequence.into();
    m["chain_heads"][0]["hash"] = hash.into();
    m["chain_heads"][0]["events"] = (head["events"].as_u64().unwrap() + 1).into();
    forged[0] = String::from_utf8(serde_json_canonicalizer::to_vec(&manifest).unwrap()).unwrap();
    let body = join(&forged);
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
    let signature = serde_json::json!({"signature": {
        "algorithm": "ed25519", "key_fingerprint": key.fingerprint(), "public_key": key.public_hex(),
        "sha256": sha, "value": key.sign_hex(export::signed_message(&sha).as_bytes())}});
    let mut signed = body;
    signed.extend(serde_json_canonicalizer::to_vec(&signature).unwrap());
    signed.push(b'\n');
    let problems = problems_of(&signed, Some(&published));
    assert_eq!(problems.len(), 1, "{problems:?}");
    let p = &problems[0];
    assert_eq!(
        (p.line, p.project.as_deref(), p.sequence),
        (
            Some(forged.len() as u64),
            Some(project.as_str()),
            Some(sequence)
        ),
        "{p}"
    );
    assert!(p.what.contains("the rules refuse this event"), "{p}");

    // A county's export holds only that county's projects, and verifies.
    let county = domain::JurisdictionCode::parse("370323").unwrap();
    let scoped_out = db.dir.path().join("county.jsonl");
    let scoped = export::export(
        &engine,
        &key,
        &Scope {
            jurisdiction: Some(county.clone()),
            ..Default::default()
        },
        &scoped_out,
        now(),
        |_, _| {},
    )
    .await
    .unwrap();
    assert!(scoped.projects > 0 && scoped.events < summary.events);
    let scoped_bytes = std::fs::read(&scoped_out).unwrap();
    assert!(problems_of(&scoped_bytes, Some(&published)).is_empty());
    for line in &lines(&scoped_bytes)[1..] {
        if field(line, "sequence").as_i64() == Some(1) {
            let j = field(line, "payload")["ProjectRegistered"]["jurisdiction"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(
                county.covers(&domain::JurisdictionCode::parse(&j).unwrap()),
                "{j}"
            );
        }
    }
}

/// `verify-store` finds an UPDATE and a DELETE made behind the engine's back, naming the
/// project and the event; an untouched store verifies.
async fn verify_store_names_updates_and_deletes_behind_the_engines_back(kind: Kind) {
    let db = TestDb::new(kind).await;
    let engine = demo_engine(&db).await;
    let key = InstallationKey::from_seed([9; 32]);
    digest::record(&engine.store, &key, now()).await.unwrap();
    let clean = api::audit::verify_store::verify_store(&engine.store, &key.public(), |_, _| {})
        .await
        .unwrap();
    assert!(clean.problems.is_empty(), "{:?}", clean.problems);
    assert_eq!(
        clean.events as i64,
        engine.store.last_position().await.unwrap()
    );

    // An UPDATE of a paid amount.
    let paid = engine
        .store
        .read_all(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.event_type == "TrancheDisbursed")
        .expect("the demo pays tranches");
    let mut payload = paid.payload.clone();
    let amount = payload["TrancheDisbursed"]["amount"].as_i64().unwrap();
    payload["TrancheDisbursed"]["amount"] = (amount * 2).into();
    let sql = format!(
        "UPDATE events SET payload = '{}' WHERE aggregate_id = '{}' AND sequence = {}",
        serde_json::to_string(&payload).unwrap().replace('\'', "''"),
        paid.aggregate_id,
        paid.sequence
    );
    assert_eq!(db.raw(&sql).await, 1);
    // A DELETE of another project's last event (its head in the digest).
    let projects = engine.store.aggregate_ids("SubsidyProject").await.unwrap();
    let other = projects.iter().find(|p| **p != paid.aggregate_id).unwrap();
    let last = engine
        .store
        .read_stream("SubsidyProject", other)
        .await
        .unwrap()
        .last()
        .unwrap()
        .sequence;
    assert_eq!(
        db.raw(&format!(
            "DELETE FROM events WHERE aggregate_id = '{other}' AND sequence = {last}"
        ))
        .await,
        1
    );
    let report = api::audit::verify_store::verify_store(&engine.store, &key.public(), |_, _| {})
        .await
        .unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.project.as_deref() == Some(paid.aggregate_id.as_str())
                && p.sequence == Some(paid.sequence)
                && p.what.contains("altered")),
        "{:?}",
        report.problems
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.project.as_deref() == Some(other.as_str())
                && p.sequence == Some(last)
                && p.what.contains("no longer holds it")),
        "{:?}",
        report.problems
    );
}

/// The server's daily task records one digest per Asia/Shanghai day, not one per wake-up.
async fn the_daily_digest_is_recorded_once_a_day(kind: Kind) {
    let db = TestDb::new(kind).await;
    let engine = demo_engine(&db).await;
    let key = Arc::new(InstallationKey::from_seed([4; 32]));
    api::audit::daily_digests(engine.store.clone(), key.clone(), async {}).await;
    api::audit::daily_digests(engine.store.clone(), key.clone(), async {}).await;
    let all = digest::list(&Db::of(&engine.store)).await.unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].position, engine.store.last_position().await.unwrap());
    assert!(verify_hex(
        &key.public(),
        all[0].signed_message().as_bytes(),
        &all[0].signature
    ));
}

on_both_backends!(
    the_daily_digest_is_recorded_once_a_day,
    verify_store_names_updates_and_deletes_behind_the_engines_back,
    digests_sign_every_chain_head_and_prove_inclusion_and_consistency,
    an_export_verifies_offline_and_every_tampering_is_named,
);
