use super::*;

#[test]
fn passwords_leave_the_url() {
    assert_eq!(
        split_password("postgres://kyukit:s%40cret@db.example:5432/kyukit?sslmode=require"),
        (
            "postgres://kyukit@db.example:5432/kyukit?sslmode=require".to_string(),
            Some("s@cret".to_string())
        )
    );
    assert_eq!(
        split_password("postgres://postgres@localhost/x?host=/tmp/a@b"),
        (
            "postgres://postgres@localhost/x?host=/tmp/a@b".to_string(),
            None
        )
    );
    assert_eq!(split_password("postgresql://h/db").1, None);
}

#[test]
fn names() {
    assert_eq!(stamp(1_795_219_200).unwrap(), "20261121T000000Z");
    assert_eq!(rfc3339(1_795_219_200).unwrap(), "2026-11-21T00:00:00Z");
    assert!(is_generation_name(
        "kyukit-backup-20261121T000000Z-0a1b2c3d"
    ));
    assert!(!is_generation_name(
        ".kyukit-backup-20261121T000000Z-0a1b2c3d.partial"
    ));
    assert!(!is_generation_name(
        "kyukit-backup-20261121T000000Z-0a1b2c3"
    ));
    assert_eq!(key_file_kid("keys/abc_-1.pem"), Some("abc_-1"));
    assert_eq!(key_file_kid("keys/../x.pem"), None);
    assert_eq!(key_file_kid("keys/a/b.pem"), None);
    assert_eq!(key_file_kid("kyukit.db"), None);
}

#[test]
fn readonly_uris_are_escaped() {
    assert_eq!(
        readonly_uri(Path::new("/tmp/a b?#%.db")).unwrap(),
        "file:/tmp/a%20b%3F%23%25.db?mode=ro&immutable=1"
    );
}
