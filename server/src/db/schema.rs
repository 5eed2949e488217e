//! Diesel table definitions, written to match `migrations/{sqlite,postgres}` (a test checks that
//! both backends accept every query the server makes).

diesel::table! {
    municipalities (id) {
        id -> Text,
        municipality_id -> Text,
        code -> Text,
        name_ja -> Text,
        name_en -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    issuer_keys (municipality_id, kid) {
        municipality_id -> Text,
        kid -> Text,
        status -> Text,
        public_jwk -> Text,
        created_at -> BigInt,
        retired_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    accounts (id) {
        id -> Text,
        municipality_id -> Text,
        login_id -> Text,
        password_hash -> Text,
        role -> Text,
        display_name -> Text,
        status -> Text,
        created_at -> BigInt,
        facility_id -> Nullable<Text>,
    }
}

diesel::table! {
    sessions (token_hash) {
        token_hash -> Text,
        municipality_id -> Text,
        account_id -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
        device_id -> Nullable<Text>,
    }
}

diesel::table! {
    residents (id) {
        id -> Text,
        municipality_id -> Text,
        account_id -> Nullable<Text>,
        family_name -> Text,
        given_name -> Text,
        family_name_kana -> Nullable<Text>,
        given_name_kana -> Nullable<Text>,
        date_of_birth -> Text,
        sex -> Text,
        address -> Text,
        district -> Nullable<Text>,
        phone -> Nullable<Text>,
        preferred_language -> Text,
        status -> Text,
        withdrawn_at -> Nullable<BigInt>,
        purge_after -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    proxies (id) {
        id -> Text,
        municipality_id -> Text,
        resident_id -> Text,
        account_id -> Text,
        relation -> Text,
        relation_detail -> Nullable<Text>,
        consent_statement -> Text,
        consented_at -> BigInt,
    }
}

diesel::table! {
    dataset_items (id) {
        id -> Text,
        municipality_id -> Text,
        resident_id -> Text,
        category -> Text,
        body -> Text,
        provenance -> Text,
        last_verified -> Nullable<Text>,
        updated_by -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    consents (id) {
        id -> Text,
        municipality_id -> Text,
        resident_id -> Text,
        version -> Integer,
        status -> Text,
        categories -> Text,
        disaster_use -> Bool,
        triage_on_card -> Bool,
        name_on_print -> Bool,
        given_by -> Text,
        proxy_id -> Nullable<Text>,
        recorded_by -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    cards (id) {
        id -> Text,
        municipality_id -> Text,
        resident_id -> Text,
        kid -> Text,
        cose -> Binary,
        triage -> Bool,
        issued_at -> BigInt,
        expires_at -> BigInt,
        status -> Text,
        revoked_at -> Nullable<BigInt>,
        revoke_reason -> Nullable<Text>,
    }
}

diesel::joinable!(sessions -> accounts (account_id));
diesel::joinable!(proxies -> residents (resident_id));
diesel::joinable!(dataset_items -> residents (resident_id));
diesel::joinable!(consents -> residents (resident_id));
diesel::joinable!(cards -> residents (resident_id));

diesel::table! {
    audit_heads (municipality_id) {
        municipality_id -> Text,
        seq -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    audit_events (municipality_id, seq) {
        municipality_id -> Text,
        seq -> BigInt,
        at -> BigInt,
        actor_account_id -> Nullable<Text>,
        actor_role -> Nullable<Text>,
        device_id -> Nullable<Text>,
        facility_id -> Nullable<Text>,
        resident_id -> Nullable<Text>,
        action -> Text,
        purpose -> Nullable<Text>,
        outcome -> Text,
        detail -> Nullable<Text>,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    facilities (id) {
        id -> Text,
        municipality_id -> Text,
        kind -> Text,
        name_ja -> Text,
        name_en -> Text,
        address -> Text,
        phone -> Text,
        status -> Text,
        listed -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    devices (id) {
        id -> Text,
        municipality_id -> Text,
        facility_id -> Text,
        label -> Text,
        public_jwk -> Text,
        status -> Text,
        enrolled_at -> BigInt,
        enrolled_by -> Text,
        revoked_at -> Nullable<BigInt>,
        revoked_by -> Nullable<Text>,
        revoke_reason -> Nullable<Text>,
    }
}

diesel::table! {
    enrollment_codes (code_hash) {
        code_hash -> Text,
        municipality_id -> Text,
        facility_id -> Text,
        label -> Text,
        created_by -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        device_id -> Nullable<Text>,
    }
}

diesel::table! {
    request_nonces (device_id, nonce) {
        device_id -> Text,
        nonce -> Text,
        municipality_id -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    accesses (id) {
        id -> Text,
        municipality_id -> Text,
        kind -> Text,
        resident_id -> Text,
        card_id -> Nullable<Text>,
        account_id -> Text,
        device_id -> Text,
        facility_id -> Text,
        incident_ref -> Text,
        reason -> Nullable<Text>,
        categories -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        review_status -> Nullable<Text>,
        reviewed_by -> Nullable<Text>,
        reviewed_at -> Nullable<BigInt>,
        review_note -> Nullable<Text>,
    }
}

diesel::joinable!(devices -> facilities (facility_id));

diesel::allow_tables_to_appear_in_same_query!(
    facilities,
    devices,
    enrollment_codes,
    request_nonces,
    accesses,
    audit_heads,
    audit_events,
    municipalities,
    issuer_keys,
    accounts,
    sessions,
    residents,
    proxies,
    dataset_items,
    consents,
    cards,
);
