//! The audit log's hash chain: untouched it verifies; an edited, deleted, reordered or truncated
//! entry is named; concurrent writers never fork the chain.

use diesel::prelude::*;
use kyukit_server::audit::{self, ChainError, VerifyError};
use kyukit_server::db::schema::{audit_events, audit_heads};
use kyukit_tests::*;

async fn some_activity(app: &TestApp) {
    let (rid, token) = register_resident(app, "audited").await;
    for name in ["薬A", "薬B", "薬C"] {
        let r = app
            .post(
                &format!("/api/v1/residents/{rid}/dataset"),
                Some(&token),
                json!({"category": "medications", "body": {"name": name}}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let bad = app
        .post(
            "/api/v1/sessions",
            None,
            json!({"login_id": "audited", "password": "not the password"}),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
}

fn chain_error(r: Result<i64, VerifyError>) -> ChainError {
    match r {
        Err(VerifyError::Chain(e)) => e,
        other => panic!("expected a chain error, got {other:?}"),
    }
}

both_backends!(tampering_is_found_and_named, |app: TestApp| async move {
    some_activity(&app).await;
    let db = app.db();
    let muni = app.municipality_id(&db);
    let mut c = db.conn().unwrap();
    let c: &mut kyukit_server::db::DbConnection = &mut c;
    // register + 3 dataset writes + failed login (+ keys at bootstrap).
    let n = audit::verify(c, &muni, None).unwrap();
    assert!(n >= 5, "{n} entries");
    let actions: Vec<String> = audit_events::table
        .order(audit_events::seq.asc())
        .select(audit_events::action)
        .load(c)
        .unwrap();
    assert!(
        actions.contains(&"resident.register".to_string())
            && actions.contains(&"login.failed".to_string())
    );
    assert_eq!(actions.iter().filter(|a| *a == "dataset.write").count(), 3);
    let (head_seq, head_hash) = audit::head(c, &muni).unwrap();

    // Edit one entry's content.
    let target = 3i64;
    let original: String = audit_events::table
        .filter(audit_events::seq.eq(target))
        .select(audit_events::action)
        .first(c)
        .unwrap();
    diesel::update(audit_events::table.filter(audit_events::seq.eq(target)))
        .set(audit_events::action.eq("login.ok"))
        .execute(c)
        .unwrap();
    assert_eq!(
        chain_error(audit::verify(c, &muni, None)),
        ChainError::Edited { seq: target }
    );
    diesel::update(audit_events::table.filter(audit_events::seq.eq(target)))
        .set(audit_events::action.eq(&original))
        .execute(c)
        .unwrap();
    assert_eq!(audit::verify(c, &muni, None).unwrap(), n, "restored");

    // Reorder: swap the contents of two entries (each keeps its own sequence number).
    let row = |c: &mut kyukit_server::db::DbConnection, s: i64| -> audit::AuditRow {
        audit_events::table
            .filter(audit_events::seq.eq(s))
            .select(audit::AuditRow::as_select())
            .first(c)
            .unwrap()
    };
    let (a, b) = (row(c, 2), row(c, 3));
    for (seq, src) in [(2, &b), (3, &a)] {
        diesel::update(audit_events::table.filter(audit_events::seq.eq(seq)))
            .set((
                audit_events::action.eq(&src.action),
                audit_events::detail.eq(&src.detail),
                audit_events::prev_hash.eq(&src.prev_hash),
                audit_events::hash.eq(&src.hash),
                audit_events::at.eq(src.at),
            ))
            .execute(c)
            .unwrap();
    }
    let e = chain_error(audit::verify(c, &muni, None));
    assert!(
        matches!(
            e,
            ChainError::Edited { seq: 2 } | ChainError::Broken { seq: 2 }
        ),
        "{e:?}"
    );
    for (seq, src) in [(2, &a), (3, &b)] {
        diesel::update(audit_events::table.filter(audit_events::seq.eq(seq)))
            .set((
                audit_events::action.eq(&src.action),
                audit_events::detail.eq(&src.detail),
                audit_events::prev_hash.eq(&src.prev_hash),
                audit_events::hash.eq(&src.hash),
                audit_events::at.eq(src.at),
            ))
            .execute(c)
            .unwrap();
    }
    assert_eq!(audit::verify(c, &muni, None).unwrap(), n);

    // Delete one entry in the middle.
    let saved = row(c, 2);
    diesel::delete(audit_events::table.filter(audit_events::seq.eq(2)))
        .execute(c)
        .unwrap();
    assert_eq!(
        chain_error(audit::verify(c, &muni, None)),
        ChainError::Missing { seq: 2 }
    );
    diesel::insert_into(audit_events::table)
        .values(&saved)
        .execute(c)
        .unwrap();
    assert_eq!(audit::verify(c, &muni, None).unwrap(), n);

    // Truncate the tail and rewind the head, as an intruder would: only the published head tells.
    diesel::delete(audit_events::table.filter(audit_events::seq.eq(head_seq)))
        .execute(c)
        .unwrap();
    let previous: String = audit_events::table
        .filter(audit_events::seq.eq(head_seq - 1))
        .select(audit_events::hash)
        .first(c)
        .unwrap();
    diesel::update(audit_heads::table)
        .set((
            audit_heads::seq.eq(head_seq - 1),
            audit_heads::hash.eq(&previous),
        ))
        .execute(c)
        .unwrap();
    assert_eq!(
        audit::verify(c, &muni, None).unwrap(),
        n - 1,
        "self-consistent without the published head"
    );
    assert_eq!(
        chain_error(audit::verify(c, &muni, Some((head_seq, &head_hash)))),
        ChainError::Truncated {
            last: n - 1,
            published: head_seq
        }
    );
});

both_backends!(
    concurrent_writers_never_fork_the_chain,
    |app: TestApp| async move {
        let (rid, token) = register_resident(&app, "busy").await;
        let writes = (0..20).map(|i| {
            let (app, rid, token) = (&app, rid.clone(), token.clone());
            async move {
                app.post(
                    &format!("/api/v1/residents/{rid}/dataset"),
                    Some(&token),
                    json!({"category": "conditions", "body": {"name": format!("c{i}")}}),
                )
                .await
                .status()
            }
        });
        let statuses = futures_join_all(writes).await;
        assert!(
            statuses.iter().all(|s| *s == StatusCode::CREATED),
            "{statuses:?}"
        );
        let db = app.db();
        let muni = app.municipality_id(&db);
        let mut c = db.conn().unwrap();
        let n = audit::verify(&mut c, &muni, None).unwrap();
        let writes: i64 = audit_events::table
            .filter(audit_events::action.eq("dataset.write"))
            .count()
            .get_result(&mut **c)
            .unwrap();
        assert_eq!(writes, 20);
        assert_eq!(audit::head(&mut c, &muni).unwrap().0, n);
    }
);

/// Runs futures concurrently on the test runtime (tokio tasks need 'static; these borrow the app).
async fn futures_join_all<F: std::future::Future<Output = StatusCode>>(
    futs: impl Iterator<Item = F>,
) -> Vec<StatusCode> {
    let mut pinned: Vec<_> = futs.map(Box::pin).collect();
    let mut out = vec![None; pinned.len()];
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|v| v.expect("done")).collect()
}

// Group commit holds a batch's audit events back and appends them at its commit: concurrent
// writers (more than one batch, several writers on PostgreSQL), a fifth of them failing after
// appending, leave exactly the events of the writes that succeeded, in one unbroken chain.
both_backends!(
    batched_appends_keep_exactly_the_committed_events,
    |app: TestApp| async move {
        let db = app.db_with_writers(4);
        let muni = app.municipality_id(&db);
        let before = {
            let mut c = db.conn().unwrap();
            audit::verify(&mut c, &muni, None).unwrap()
        };
        let (commits0, writes0) = db.group_commit_stats();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (db, muni) = (db.clone(), muni.clone());
                std::thread::spawn(move || {
                    let mut ok = 0i64;
                    for i in 0..25 {
                        let fail = (t * 25 + i) % 5 == 0;
                        let r: Result<(), kyukit_server::db::DbError> = db.write(|c| {
                            for k in 0..2 {
                                let event = audit::Event::new(
                                    audit::Action::ReadAccess,
                                    audit::Outcome::Ok,
                                )
                                .detail(format!("batch test {t}/{i}/{k}"));
                                audit::append(c, &muni, &event, 1_795_000_000);
                            }
                            if fail {
                                return Err(kyukit_server::db::DbError::Unavailable(
                                    "refused".into(),
                                ));
                            }
                            Ok(())
                        });
                        assert_eq!(r.is_ok(), !fail, "{r:?}");
                        ok += i64::from(r.is_ok());
                    }
                    ok
                })
            })
            .collect();
        let acked: i64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(acked, 8 * 20);
        let mut c = db.conn().unwrap();
        let c: &mut kyukit_server::db::DbConnection = &mut c;
        let after = audit::verify(c, &muni, None).unwrap();
        assert_eq!(
            after - before,
            2 * acked,
            "two events per committed write, none else"
        );
        let events: i64 = audit_events::table
            .filter(audit_events::municipality_id.eq(&muni))
            .filter(audit_events::detail.like("batch test %"))
            .count()
            .get_result(c)
            .unwrap();
        assert_eq!(events, 2 * acked, "no event of a failed write");
        let (commits, writes) = db.group_commit_stats();
        let (commits, writes) = (commits - commits0, writes - writes0);
        assert_eq!(writes, 200, "every write is a member of a batch");
        assert!(
            commits < writes,
            "{commits} commits for {writes} writes: no batching"
        );
    }
);
