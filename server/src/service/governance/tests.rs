use super::*;

#[test]
fn emails() {
    for ok in [
        "a@b.jp",
        "info@hospital.joso.example.jp",
        "x.y+z@city.lg.jp",
    ] {
        assert!(email("e", ok).is_ok(), "{ok}");
    }
    for bad in [
        "", "a", "a@b", "@b.jp", "a@.jp", "a@b.", "a b@c.jp", "a@b..jp", "a@b@c.jp",
    ] {
        assert!(email("e", bad).is_err(), "{bad}");
    }
}

#[test]
fn bodies_keep_line_breaks_only() {
    assert_eq!(
        body_text("b", " 一行目\r\n二行目 ", 10).unwrap(),
        "一行目\n二行目"
    );
    assert!(body_text("b", "a\u{0}b", 10).is_err());
    assert!(body_text("b", "a\u{1b}[31mb", 10).is_err());
    assert!(body_text("b", "   ", 10).is_err());
    assert!(body_text("b", &"x".repeat(11), 10).is_err());
    // A notice cannot hide a reversed line or an invisible character; it is stored NFC.
    assert!(body_text("b", "お知らせ\u{202E}", 10).is_err());
    assert!(body_text("b", "お\u{200B}知らせ", 10).is_err());
    assert_eq!(body_text("b", "\u{304B}\u{3099}", 10).unwrap(), "\u{304C}");
    assert_eq!(
        email("contact", "a\u{200B}b@example.jp")
            .unwrap_err()
            .code(),
        "invalid_email"
    );
}

/// The SQLite migration rebuilds `facilities` to widen its CHECKs: existing facilities and every
/// row that refers to one survive, foreign keys are enforced again afterwards, and the new kinds
/// and status are accepted. A down-and-up round trip keeps the data too.
#[test]
fn sqlite_rebuild_keeps_facilities_and_their_references() {
    use diesel::connection::SimpleConnection;
    use diesel::migration::MigrationSource;
    use diesel::prelude::*;
    use diesel::sqlite::Sqlite;
    use diesel_migrations::MigrationHarness;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    fn count(c: &mut SqliteConnection, sql: &str) -> i64 {
        diesel::sql_query(sql).get_result::<Count>(c).unwrap().n
    }

    let dir = std::env::temp_dir().join(format!("kyukit-gov-mig-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.db");
    let mut c = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    c.batch_execute("PRAGMA foreign_keys = ON;").unwrap();
    let mut all = MigrationSource::<Sqlite>::migrations(&crate::db::SQLITE_MIGRATIONS).unwrap();
    all.sort_by_key(|m| m.name().to_string());
    let (before, _): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|m| m.name().to_string().as_str() < "2026-11-21-000005");
    diesel::migration::MigrationConnection::setup(&mut c).unwrap();
    for m in &before {
        c.run_migration(m).unwrap();
    }
    c.batch_execute(
        "INSERT INTO municipalities VALUES ('m', 'm', 'c', '市', 'City', 0);
         INSERT INTO accounts (id, municipality_id, login_id, password_hash, role, display_name, status, created_at)
             VALUES ('admin', 'm', 'admin', 'h', 'city_admin', 'a', 'active', 0);
         INSERT INTO facilities VALUES ('f1', 'm', 'fire_department', '消防', 'Fire', 'addr', '0297', 'active', 1, 0);
         INSERT INTO facilities VALUES ('f2', 'm', 'hospital', '病院', 'Hospital', 'addr', '0297', 'suspended', 0, 0);
         INSERT INTO accounts (id, municipality_id, login_id, password_hash, role, display_name, status, created_at, facility_id)
             VALUES ('medic', 'm', 'medic', 'h', 'paramedic', 'p', 'active', 0, 'f1');
         INSERT INTO devices VALUES ('d1', 'm', 'f1', 'tablet', '{}', 'active', 0, 'admin', NULL, NULL, NULL);
         INSERT INTO enrollment_codes VALUES ('h1', 'm', 'f2', 'l', 'admin', 0, 1, NULL, NULL);",
    )
    .unwrap();

    c.run_pending_migrations(crate::db::SQLITE_MIGRATIONS)
        .unwrap();
    let check = |c: &mut SqliteConnection| {
        assert_eq!(count(c, "SELECT COUNT(*) AS n FROM facilities"), 2);
        assert_eq!(
            count(
                c,
                "SELECT COUNT(*) AS n FROM facilities WHERE id = 'f2' AND status = 'suspended' AND listed = 0"
            ),
            1
        );
        assert_eq!(
            count(
                c,
                "SELECT COUNT(*) AS n FROM devices WHERE facility_id = 'f1'"
            ),
            1
        );
        assert_eq!(
            count(
                c,
                "SELECT COUNT(*) AS n FROM accounts WHERE facility_id = 'f1'"
            ),
            1
        );
        assert_eq!(
            count(c, "SELECT COUNT(*) AS n FROM pragma_foreign_key_check"),
            0
        );
        assert_eq!(
            count(c, "SELECT foreign_keys AS n FROM pragma_foreign_keys"),
            1
        );
        // References to facilities are enforced again.
        assert!(
            c.batch_execute("INSERT INTO devices VALUES ('d2', 'm', 'ghost', 'x', '{}', 'active', 0, 'admin', NULL, NULL, NULL)")
                .is_err()
        );
        assert!(
            c.batch_execute("DELETE FROM facilities WHERE id = 'f1'")
                .is_err()
        );
    };
    check(&mut c);
    c.batch_execute(
        "INSERT INTO facilities VALUES ('f3', 'm', 'pharmacy', '薬局', 'Pharmacy', 'a', '0297', 'withdrawn', 0, 0)",
    )
    .unwrap();
    assert!(
        c.batch_execute("INSERT INTO facilities VALUES ('f4', 'm', 'bank', 'x', 'x', 'a', '0297', 'active', 0, 0)")
            .is_err()
    );

    // Down refuses while a facility of a new kind exists, and keeps everything; without one it
    // narrows the table back, keeping the rows; up again restores the governance tables.
    let mut all = MigrationSource::<Sqlite>::migrations(&crate::db::SQLITE_MIGRATIONS).unwrap();
    let at = all
        .iter()
        .position(|m| m.name().to_string().starts_with("2026-11-21-000005_"))
        .unwrap();
    let ours = all.swap_remove(at);
    assert!(c.revert_migration(&ours).is_err());
    c.batch_execute("ROLLBACK; PRAGMA foreign_keys = ON;")
        .unwrap();
    assert_eq!(count(&mut c, "SELECT COUNT(*) AS n FROM facilities"), 3);
    assert_eq!(count(&mut c, "SELECT COUNT(*) AS n FROM notices"), 0);
    c.batch_execute("DELETE FROM facilities WHERE id = 'f3'")
        .unwrap();
    c.revert_migration(&ours).unwrap();
    assert_eq!(
        count(
            &mut c,
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'facility_applications'"
        ),
        0
    );
    check(&mut c);
    assert!(
        c.batch_execute("INSERT INTO facilities VALUES ('f5', 'm', 'clinic', 'x', 'x', 'a', '0297', 'active', 0, 0)")
            .is_err()
    );
    c.run_pending_migrations(crate::db::SQLITE_MIGRATIONS)
        .unwrap();
    check(&mut c);
    assert_eq!(
        count(&mut c, "SELECT COUNT(*) AS n FROM facility_applications"),
        0
    );
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tokens_are_128_bits_and_compared_whole() {
    let (t, h) = new_token().unwrap();
    assert_eq!(t.len(), 22);
    assert_eq!(h, token_hash(&t));
    assert!(same(&h, &token_hash(&t)));
    assert!(!same(&h, &token_hash("other")));
    assert!(!same("ab", "abc"));
}
