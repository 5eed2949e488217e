//! Issue 19, "no silent duplicate person": registering (self or as a proxy) a person who matches an
//! active resident — name in kana, date of birth, address — creates no second record; it is held
//! for the city, which links a proxy to the existing record or rejects; the answer is the same
//! as for a new person, so a stranger cannot learn who is registered. Run on SQLite and
//! PostgreSQL.

use kyukit_tests::field::{access_history, admin_token, json_of, world};
use kyukit_tests::*;

fn count(app: &TestApp, table: &str) -> i64 {
    table_counts(app)
        .into_iter()
        .find(|(t, _)| *t == table)
        .unwrap_or_else(|| panic!("no table {table}"))
        .1
}

/// The proxy registration of 山田 花子 (the world's resident) by her daughter, typed differently:
/// other kanji (華子), kana in hiragana, full-width digits and dash, spaces.
fn daughter_registers_mother(login: &str) -> Value {
    json!({
        "login_id": login, "password": "daughter long secret", "display_name": "山田 一子",
        "relation": "family", "relation_detail": "長女", "accept_proxy_statement": true,
        "resident": {
            "family_name": "山田", "given_name": "華子",
            "family_name_kana": "やまだ", "given_name_kana": "は なこ",
            "date_of_birth": "1941-04-03", "sex": "female",
            "address": "茨城県常総市 水海道諏訪町３２２２－３", "district": "水海道",
            "preferred_language": "ja"
        }
    })
}

/// A JSON value's shape: keys and value types, not the values (ids are random).
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        Value::String(s) => json!(format!("string/{}", s.len())),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => json!("null"),
    }
}

async fn answer(app: &TestApp, path: &str, body: Value) -> (u16, Option<String>, Value) {
    let r = app.post(path, None, body).await;
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    (status, ct, r.json().await.unwrap_or(Value::Null))
}

both_backends!(
    registering_an_existing_person_again_creates_no_second_record,
    |app: TestApp| async move {
        let w = world(&app).await; // 山田 花子 registered herself and has a card
        let admin = admin_token(&app).await;
        let (residents, cards, proxies) = (
            count(&app, "residents"),
            count(&app, "cards"),
            count(&app, "proxies"),
        );

        // Her daughter registers her as a proxy: answered as a new registration would be…
        let r = app
            .post("/api/v1/proxies", None, daughter_registers_mother("ichiko"))
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let reg = json_of(r).await;
        let token = reg["token"].as_str().unwrap().to_string();
        assert_ne!(
            reg["resident_id"],
            w.rid.as_str(),
            "the existing id is not revealed"
        );
        // …but no second record, card or proxy link.
        assert_eq!(count(&app, "residents"), residents);
        assert_eq!(count(&app, "cards"), cards);
        assert_eq!(count(&app, "proxies"), proxies);
        assert_eq!(count(&app, "registration_holds"), 1);
        // Her portal says the city is checking; nothing of her mother's record yet.
        let mine = json_of(app.get("/api/v1/me/residents", Some(&token)).await).await;
        assert_eq!(mine["residents"], json!([]));
        assert_eq!(mine["held"][0]["status"], "pending");
        assert_eq!(mine["held"][0]["kind"], "proxy");
        let r = app
            .get(&format!("/api/v1/residents/{}", w.rid), Some(&token))
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        // The attempt is in the mother's access history.
        let history = access_history(&app, &w).await;
        assert!(
            history["entries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "registration.held" && e["role"] == "proxy"),
            "{history}"
        );

        // The same person registering herself a second time is held too.
        let mut again = resident_body("hanako2");
        again["profile"]["address"] = json!("茨城県常総市水海道諏訪町3222-3");
        let r = app.post("/api/v1/residents", None, again).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(count(&app, "residents"), residents);

        // The city sees both holds with the record they matched.
        let list = json_of(app.get("/api/v1/reviews/registrations", Some(&admin)).await).await;
        let holds = list["registrations"].as_array().unwrap().clone();
        assert_eq!(holds.len(), 2, "{list}");
        // (Oldest first; on the test's fixed clock both have the same time.)
        let of = |kind: &str| holds.iter().find(|h| h["kind"] == kind).unwrap().clone();
        let (proxy, own) = (of("proxy"), of("self"));
        assert_eq!(proxy["matched"]["id"], w.rid.as_str());
        assert_eq!(proxy["typed"]["given_name"], "華子");
        assert_eq!(proxy["relation"], "family");
        assert_eq!(proxy["login_id"], "ichiko");
        assert_eq!(own["kind"], "self");
        let decide = |id: &Value, decision: &str| {
            let path = format!("/api/v1/reviews/registrations/{}", id.as_str().unwrap());
            let body = json!({ "decision": decision });
            let (app, admin) = (&app, &admin);
            async move { app.post(&path, Some(admin), body).await }
        };
        // A second self-registration cannot be linked (one login per resident): rejected.
        let r = decide(&own["id"], "link").await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(json_of(r).await["error"], "not_a_proxy");
        assert_eq!(decide(&own["id"], "reject").await.status(), StatusCode::OK);
        // The daughter is linked: now a proxy of the one record.
        assert_eq!(decide(&proxy["id"], "link").await.status(), StatusCode::OK);
        let r = decide(&proxy["id"], "link").await;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert_eq!(json_of(r).await["error"], "already_decided");
        assert_eq!(count(&app, "residents"), residents);
        assert_eq!(count(&app, "proxies"), proxies + 1);
        let mine = json_of(app.get("/api/v1/me/residents", Some(&token)).await).await;
        assert_eq!(mine["residents"][0]["id"], w.rid.as_str());
        assert_eq!(mine["held"][0]["status"], "linked");
        let r = app
            .get(&format!("/api/v1/residents/{}", w.rid), Some(&token))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let list = json_of(app.get("/api/v1/reviews/registrations", Some(&admin)).await).await;
        assert_eq!(list["registrations"], json!([]));
    }
);

both_backends!(
    a_stranger_cannot_tell_from_the_answer_who_is_registered,
    |app: TestApp| async move {
        let w = world(&app).await; // 山田 花子 is registered
        let _ = w;
        let registered = daughter_registers_mother("stranger1");
        let mut unregistered = daughter_registers_mother("stranger2");
        unregistered["resident"]["date_of_birth"] = json!("1941-04-04");

        let a = answer(&app, "/api/v1/proxies", registered).await;
        let b = answer(&app, "/api/v1/proxies", unregistered).await;
        assert_eq!((a.0, &a.1), (201, &Some("application/json".into())));
        assert_eq!((a.0, &a.1), (b.0, &b.1), "same status and type");
        assert_eq!(shape(&a.2), shape(&b.2), "{} vs {}", a.2, b.2);
        assert_ne!(a.2["resident_id"], b.2["resident_id"]);

        // The same for registering oneself.
        let mut me = resident_body("stranger3");
        me["profile"]["address"] = json!("茨城県常総市水海道諏訪町3222-3");
        let mut other = resident_body("stranger4");
        other["profile"]["given_name_kana"] = json!("ハナエ");
        let c = answer(&app, "/api/v1/residents", me).await;
        let d = answer(&app, "/api/v1/residents", other).await;
        assert_eq!((c.0, &c.1), (d.0, &d.1));
        assert_eq!(c.0, 201);
        assert_eq!(shape(&c.2), shape(&d.2), "{} vs {}", c.2, d.2);
        // One new person each time the person was new, none when they were registered.
        assert_eq!(count(&app, "registration_holds"), 2);
    }
);
