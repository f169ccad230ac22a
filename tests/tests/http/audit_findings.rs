//! `GET /audit/findings`: the compliance report over HTTP, on SQLite and PostgreSQL. The
//! crafted histories (written behind the engine's back) come back as exactly their findings,
//! with the proving events' hashes; the scope is the caller's jurisdiction; officers, admins and
//! callers outside the jurisdiction are refused; a bad query is a 400 problem.

use std::collections::BTreeSet;

use tests::crafted::write_crafted_histories;

use crate::helpers::{spawn_app, BACKENDS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_findings_endpoint_lists_the_crafted_breaches_to_auditors_in_scope() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let expected = write_crafted_histories(&app.engine.store).await;

        for user in ["auditor.zibo", "supervisor.zibo"] {
            let reply = app.get(user, "/audit/findings?jurisdiction=370323").await;
            assert_eq!(reply.status, 200, "{backend:?} {user}: {:?}", reply.body);
            let body = &reply.body;
            assert_eq!(body["jurisdiction"], "370323");
            assert_eq!(body["finance_findings"], 5, "{backend:?}");
            assert_eq!(body["deadline_findings"], 2, "{backend:?}");
            assert_eq!(body["counts"]["payment_before_notice_closed"], 1);
            assert_eq!(body["counts"]["report_not_filed"], 1);
            let findings = body["findings"].as_array().unwrap();
            let got: BTreeSet<(String, String, Vec<i64>)> = findings
                .iter()
                .map(|f| {
                    (
                        f["project_id"].as_str().unwrap().to_string(),
                        f["kind"].as_str().unwrap().to_string(),
                        f["events"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|e| e["sequence"].as_i64().unwrap())
                            .collect(),
                    )
                })
                .collect();
            let want: BTreeSet<(String, String, Vec<i64>)> = expected
                .iter()
                .map(|e| (e.project.clone(), e.kind.to_string(), e.sequences.clone()))
                .collect();
            assert_eq!(got, want, "{backend:?}");
            // Finance findings first; each carries both languages and the stored hashes.
            assert_eq!(findings[0]["severity"], "finance");
            assert_eq!(findings[findings.len() - 1]["severity"], "deadline");
            for f in findings {
                assert!(!f["title_zh"].as_str().unwrap().is_empty());
                assert!(!f["detail_en"].as_str().unwrap().is_empty());
                let project = f["project_id"].as_str().unwrap();
                let stored = app
                    .engine
                    .store
                    .read_stream("SubsidyProject", project)
                    .await
                    .unwrap();
                for e in f["events"].as_array().unwrap() {
                    let s = &stored[e["sequence"].as_i64().unwrap() as usize - 1];
                    assert_eq!(e["hash"], s.hash.as_str());
                    assert_eq!(e["prev_hash"], s.prev_hash.as_str());
                    assert_eq!(e["event_type"], s.event_type.as_str());
                    assert_eq!(e["global_position"], s.global_position);
                }
            }
        }

        // The default scope is the caller's first jurisdiction (Zibo covers Yiyuan).
        let default = app.get("auditor.zibo", "/audit/findings").await;
        assert_eq!(default.status, 200);
        assert_eq!(default.body["findings"].as_array().unwrap().len(), 7);
        // As of a day before anything was recorded: nothing to judge.
        let past = app
            .get("auditor.zibo", "/audit/findings?as_of=2001-01-01")
            .await;
        assert_eq!(past.status, 200);
        assert_eq!(past.body["projects"], 0);
        assert_eq!(past.body["as_of"], "2001-01-01");

        // Outside the caller's jurisdictions, other roles, bad queries.
        for (user, path, status) in [
            ("auditor.jinan", "/audit/findings?jurisdiction=370323", 403),
            (
                "supervisor.jinan",
                "/audit/findings?jurisdiction=370323",
                403,
            ),
            ("auditor.zibo", "/audit/findings?jurisdiction=370000", 403),
            ("officer.yiyuan", "/audit/findings?jurisdiction=370323", 403),
            ("admin", "/audit/findings", 403),
            ("auditor.zibo", "/audit/findings?jurisdiction=12", 400),
            ("auditor.zibo", "/audit/findings?as_of=yesterday", 400),
            ("auditor.zibo", "/audit/findings?unknown=1", 400),
        ] {
            let reply = app.get(user, path).await;
            assert_eq!(
                reply.status, status,
                "{backend:?} {user} {path}: {:?}",
                reply.body
            );
        }
        // Auditors of another county see no finding of Yiyuan in their own scope.
        let jinan = app.get("auditor.jinan", "/audit/findings").await;
        assert_eq!(jinan.status, 200);
        assert_eq!(jinan.body["projects"], 0);
    }
}
