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
        card_base_url -> Nullable<Text>,
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
        totp_secret -> Nullable<Text>,
        totp_last_step -> Nullable<BigInt>,
        failed_logins -> Integer,
        locked_until -> Nullable<BigInt>,
        profession -> Nullable<Text>,
        replaced_by -> Nullable<Text>,
        suspended_reason -> Nullable<Text>,
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
        removed_at -> Nullable<BigInt>,
        removed_by -> Nullable<Text>,
    }
}

diesel::table! {
    proxy_invites (code_hash) {
        code_hash -> Text,
        id -> Text,
        municipality_id -> Text,
        resident_id -> Text,
        created_by -> Text,
        relation -> Text,
        relation_detail -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        used_by -> Nullable<Text>,
        cancelled_at -> Nullable<BigInt>,
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
        notify_family -> Bool,
        family_hospital_name -> Bool,
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
        consent_version -> Nullable<Integer>,
    }
}

diesel::table! {
    resident_photos (resident_id) {
        resident_id -> Text,
        municipality_id -> Text,
        jpeg -> Binary,
        width -> Integer,
        height -> Integer,
        sha256 -> Text,
        uploaded_by -> Text,
        updated_at -> BigInt,
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
    spent_nonces (created, device_id, nonce) {
        created -> BigInt,
        device_id -> Text,
        nonce -> Text,
        municipality_id -> Text,
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
    spent_nonces,
    accesses,
    audit_heads,
    audit_events,
    municipalities,
    issuer_keys,
    accounts,
    sessions,
    residents,
    proxies,
    proxy_invites,
    dataset_items,
    consents,
    cards,
);

// ---- governance: disaster mode (RULES R11) ------------------------------------------------------

diesel::table! {
    disaster_declarations (id) {
        id -> Text,
        municipality_id -> Text,
        districts -> Text,
        starts_at -> BigInt,
        ends_at -> BigInt,
        reason -> Text,
        declared_by -> Text,
        created_at -> BigInt,
        renewed_from -> Nullable<Text>,
        ended_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    disaster_accesses (id) {
        id -> Text,
        municipality_id -> Text,
        declaration_id -> Text,
        resident_id -> Text,
        account_id -> Text,
        categories -> Text,
        created_at -> BigInt,
    }
}

// ---- governance: applications, directory, notices (RULES R1, R6, R15, R17) ---------------------

diesel::table! {
    facility_contacts (facility_id) {
        facility_id -> Text,
        municipality_id -> Text,
        contact_email -> Text,
        manager_name -> Text,
        manager_phone -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    facility_applications (id) {
        id -> Text,
        municipality_id -> Text,
        request_type -> Text,
        status -> Text,
        facility_id -> Nullable<Text>,
        kind -> Nullable<Text>,
        name_ja -> Nullable<Text>,
        name_en -> Nullable<Text>,
        address -> Nullable<Text>,
        phone -> Nullable<Text>,
        contact_email -> Nullable<Text>,
        manager_name -> Nullable<Text>,
        manager_phone -> Nullable<Text>,
        listed -> Nullable<Bool>,
        note -> Nullable<Text>,
        status_token_hash -> Text,
        submitted_by -> Nullable<Text>,
        created_at -> BigInt,
        decided_at -> Nullable<BigInt>,
        decided_by -> Nullable<Text>,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    application_notifications (id) {
        id -> Text,
        municipality_id -> Text,
        application_id -> Text,
        status -> Text,
        reason -> Nullable<Text>,
        facility_id -> Nullable<Text>,
        recipient_email -> Nullable<Text>,
        created_at -> BigInt,
        email_sent_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    notices (id) {
        id -> Text,
        municipality_id -> Text,
        kind -> Text,
        title_ja -> Text,
        title_en -> Text,
        body_ja -> Text,
        body_en -> Text,
        starts_at -> Nullable<BigInt>,
        ends_at -> Nullable<BigInt>,
        termination -> Bool,
        status -> Text,
        created_by -> Text,
        created_at -> BigInt,
        withdrawn_by -> Nullable<Text>,
        withdrawn_at -> Nullable<BigInt>,
    }
}

// ---- pre-arrival: incidents, reports, inquiry, live feed, Web Push ---------------------------------

diesel::table! {
    incidents (id) {
        id -> Text,
        municipality_id -> Text,
        facility_id -> Text,
        device_id -> Text,
        opened_by -> Text,
        access_id -> Nullable<Text>,
        incident_ref -> Text,
        status -> Text,
        destination_id -> Nullable<Text>,
        version -> Integer,
        activation -> Nullable<Text>,
        eta_at -> Nullable<BigInt>,
        seed -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        closed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    incident_reports (incident_id, version) {
        incident_id -> Text,
        version -> Integer,
        municipality_id -> Text,
        body -> Text,
        created_by -> Text,
        device_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    incident_attachments (id) {
        id -> Text,
        municipality_id -> Text,
        incident_id -> Text,
        content_type -> Text,
        size -> BigInt,
        sha256 -> Text,
        data -> Binary,
        created_by -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    inquiry_targets (incident_id, hospital_id) {
        incident_id -> Text,
        hospital_id -> Text,
        municipality_id -> Text,
        status -> Text,
        reason -> Nullable<Text>,
        asked_at -> BigInt,
        answered_by -> Nullable<Text>,
        answered_at -> Nullable<BigInt>,
        acknowledged_by -> Nullable<Text>,
        acknowledged_at -> Nullable<BigInt>,
        escalated_at -> Nullable<BigInt>,
        reason_code -> Nullable<Text>,
    }
}

diesel::table! {
    inquiry_history (id) {
        id -> Text,
        incident_id -> Text,
        hospital_id -> Text,
        municipality_id -> Text,
        status -> Text,
        reason_code -> Nullable<Text>,
        reason -> Nullable<Text>,
        asked_at -> BigInt,
        answered_by -> Nullable<Text>,
        answered_at -> Nullable<BigInt>,
        archived_at -> BigInt,
    }
}

diesel::table! {
    hospital_capacity (facility_id, category) {
        facility_id -> Text,
        category -> Text,
        municipality_id -> Text,
        status -> Text,
        note -> Nullable<Text>,
        updated_by -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    feed_heads (facility_id) {
        facility_id -> Text,
        municipality_id -> Text,
        seq -> BigInt,
    }
}

diesel::table! {
    feed_events (facility_id, seq) {
        facility_id -> Text,
        seq -> BigInt,
        municipality_id -> Text,
        incident_id -> Text,
        kind -> Text,
        data -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    push_subscriptions (id) {
        id -> Text,
        municipality_id -> Text,
        account_id -> Text,
        facility_id -> Nullable<Text>,
        endpoint -> Text,
        p256dh -> Text,
        auth -> Text,
        label -> Nullable<Text>,
        created_at -> BigInt,
        tier -> Integer,
    }
}

diesel::table! {
    push_outbox (id) {
        id -> Text,
        municipality_id -> Text,
        subscription_id -> Text,
        incident_id -> Nullable<Text>,
        payload -> Text,
        ttl_secs -> Integer,
        urgency -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        done_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(incident_reports -> incidents (incident_id));
diesel::joinable!(inquiry_targets -> incidents (incident_id));
diesel::joinable!(inquiry_targets -> facilities (hospital_id));
diesel::joinable!(push_outbox -> push_subscriptions (subscription_id));

diesel::allow_tables_to_appear_in_same_query!(
    incidents,
    incident_reports,
    incident_attachments,
    inquiry_targets,
    inquiry_history,
    hospital_capacity,
    feed_heads,
    feed_events,
    push_subscriptions,
    push_outbox,
    facilities,
);

diesel::table! {
    registration_holds (id) {
        id -> Text,
        municipality_id -> Text,
        account_id -> Text,
        kind -> Text,
        matched_resident_id -> Text,
        relation -> Nullable<Text>,
        relation_detail -> Nullable<Text>,
        consent_statement -> Nullable<Text>,
        profile -> Nullable<Text>,
        status -> Text,
        created_at -> BigInt,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    target_escalations (incident_id, hospital_id, asked_at) {
        incident_id -> Text,
        hospital_id -> Text,
        asked_at -> BigInt,
        level -> Integer,
        realerts -> Integer,
        updated_at -> BigInt,
    }
}

diesel::table! {
    resident_imports (id) {
        id -> Text,
        municipality_id -> Text,
        file_sha256 -> Text,
        imported_by -> Text,
        started_at -> BigInt,
        finished_at -> Nullable<BigInt>,
        rows_total -> Integer,
        rows_imported -> Integer,
        rows_already -> Integer,
        rows_rejected -> Integer,
    }
}

diesel::table! {
    imported_residents (resident_id) {
        resident_id -> Text,
        municipality_id -> Text,
        import_id -> Text,
        import_key -> Text,
        line -> Integer,
    }
}

diesel::table! {
    paper_consents (consent_id) {
        consent_id -> Text,
        municipality_id -> Text,
        resident_id -> Text,
        form_number -> Text,
        signed_on -> Text,
        signed_by -> Text,
        import_id -> Nullable<Text>,
    }
}

diesel::joinable!(imported_residents -> residents (resident_id));
diesel::allow_tables_to_appear_in_same_query!(imported_residents, residents);

// ---- WebAuthn unlock on field devices (issue 21) -------------------------------------------------

diesel::table! {
    webauthn_credentials (credential_id) {
        credential_id -> Text,
        municipality_id -> Text,
        account_id -> Text,
        device_id -> Text,
        public_key -> Text,
        sign_count -> BigInt,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    webauthn_challenges (id) {
        id -> Text,
        municipality_id -> Text,
        device_id -> Text,
        account_id -> Nullable<Text>,
        purpose -> Text,
        challenge -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    households (id) {
        id -> Text,
        municipality_id -> Text,
        created_by -> Text,
        created_at -> BigInt,
        kid -> Text,
        cose -> Binary,
        status -> Text,
        revoked_at -> Nullable<BigInt>,
        revoked_by -> Nullable<Text>,
    }
}

diesel::table! {
    idempotency_keys (device_id, idem_key) {
        device_id -> Text,
        idem_key -> Text,
        account_id -> Text,
        request_hash -> Text,
        response -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    household_members (household_id, resident_id) {
        household_id -> Text,
        resident_id -> Text,
        added_by -> Text,
        consented_at -> BigInt,
        left_at -> Nullable<BigInt>,
        left_by -> Nullable<Text>,
    }
}

diesel::joinable!(household_members -> residents (resident_id));
diesel::joinable!(household_members -> households (household_id));
diesel::allow_tables_to_appear_in_same_query!(household_members, residents, households);

diesel::table! {
    resident_confirmations (resident_id) {
        resident_id -> Text,
        municipality_id -> Text,
        confirmed_at -> BigInt,
        how -> Text,
        reminded_at -> Nullable<BigInt>,
    }
}

// ---- Facilities serving several municipalities (issue 22) ---------------------------------------

diesel::table! {
    facility_municipalities (facility_id, municipality_id) {
        facility_id -> Text,
        municipality_id -> Text,
        status -> Text,
        application_id -> Nullable<Text>,
        approved_by -> Nullable<Text>,
        approved_at -> Nullable<BigInt>,
        suspended_by -> Nullable<Text>,
        suspended_at -> Nullable<BigInt>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(facility_municipalities, facilities);
