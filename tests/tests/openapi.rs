//! The OpenAPI document at `/api/v1/openapi.json` covers every route, and only routes that exist.
//!
//! A route is declared once, by its handler's `#[utoipa::path]` and a line in `declare_routes!`
//! (server/src/api/mod.rs), which generates both the router and the document's paths. Three lists
//! must still be the same set of (method, path): the operations in the served document,
//! `kyukit_server::api::routes()` (what the router registers), and the `#[utoipa::path(<method>,
//! path = "…")]` attributes found in the server's source (so a handler left out of the list fails).
//! The source may register routes no other way. Each route must also answer something other than
//! the default 404 (so `routes()` names what is really registered), while the other methods on the
//! same paths do get the default 404 (so that check means something).

use kyukit_server::api::{Route, routes};
use kyukit_tests::*;
use std::collections::BTreeSet;
use std::path::Path;

type Routes = BTreeSet<(String, String)>;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];
const OPENAPI_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn default_404() -> Value {
    json!({"error": "not_found", "message": "no such endpoint"})
}

fn listed() -> Routes {
    let set: Routes = routes()
        .iter()
        .map(|r| (r.method.to_string(), r.path.clone()))
        .collect();
    assert_eq!(
        set.len(),
        routes().len(),
        "api::routes() has a route twice: {:?}",
        routes()
    );
    set
}

/// The placeholders of a path template, in order.
fn placeholders(template: &str) -> Vec<String> {
    template
        .split('{')
        .skip(1)
        .map(|s| s.split_once('}').expect("closed placeholder").0.to_string())
        .collect()
}

/// A concrete path for a template: well-formed dummy values, so that a registered route reaches
/// its handler.
fn sample(template: &str) -> String {
    let mut path = template.to_string();
    for name in placeholders(template) {
        let value = match name.as_str() {
            "rid" | "cid" | "item" | "fid" | "did" | "aid" | "apid" | "nid" | "iid" | "atid"
            | "sid" | "hid" | "inv" | "pid" | "hh" | "jid" => "0".repeat(32),
            "sticker" => "255".into(),
            "kid" => "AAAAAAAAAAA".into(),
            "ext" => "png".into(),
            "doc" => "fridge-sheet.png".into(),
            "card" => "255".into(),
            "file" => "pages.css".into(),
            "asset" => "field.css".into(),
            other => panic!("no sample value for {{{other}}} in {template}: add one to this test"),
        };
        path = path.replace(&format!("{{{name}}}"), &value);
    }
    path
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read server/src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `#[utoipa::path(<method>, path = "…")]` in the server's source. Registering a route any
/// other way fails the test: `.route(` may appear once, in the `declare_routes!` macro
/// (server/src/api/router.rs), and `.service`, `web::resource`, `web::scope` and routing macros
/// not at all, so that a route cannot bypass the list or this scan.
fn declared_in_source() -> Routes {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 10, "server sources not found at {src:?}");
    let router = src.join("api/router.rs");
    let mut route_calls = 0;
    let mut found = Routes::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read source");
        let name = file.display();
        for banned in [
            "web::resource(",
            "web::scope(",
            "web::service(",
            "#[get(",
            "#[post(",
            "#[put(",
            "#[delete(",
            "#[patch(",
            "#[route(",
            "actix_web::get",
            "actix_web::post",
        ] {
            assert!(
                !text.contains(banned),
                "{name} registers a route with `{banned}`: teach this test to read it"
            );
        }
        assert!(
            !text.contains(".service("),
            "{name} registers something with `.service(`: teach this test to read it"
        );
        let calls = text.matches(".route(").count();
        if file == router {
            route_calls += calls;
        } else {
            assert_eq!(
                calls, 0,
                "{name} registers a route with `.route(`: list its handler in `declare_routes!` instead"
            );
        }
        for (at, _) in text.match_indices("#[utoipa::path(") {
            let attr = &text[at + "#[utoipa::path(".len()..];
            // Up to the handler's `fn`.
            let end = ["\nfn ", " fn "]
                .iter()
                .filter_map(|f| attr.find(f))
                .min()
                .unwrap_or_else(|| panic!("{name}: a `#[utoipa::path(` without a handler"));
            let attr = &attr[..end];
            let method = attr
                .trim_start()
                .split_once(',')
                .unwrap_or_else(|| panic!("{name}: a `#[utoipa::path(` without a method"))
                .0
                .trim();
            assert!(
                ["get", "post", "put", "delete", "patch"].contains(&method),
                "{name}: `#[utoipa::path({method}, …`: teach this test to read it"
            );
            let path = attr
                .split_once("path = \"")
                .and_then(|(_, r)| r.split_once('"'))
                .unwrap_or_else(|| {
                    panic!("{name}: {method} route whose path is not `path = \"…\"`")
                })
                .0;
            assert!(
                found.insert((method.to_ascii_uppercase(), path.to_string())),
                "{name}: {method} {path} declared twice"
            );
        }
    }
    assert_eq!(
        route_calls,
        1,
        "{}: `.route(` should appear once, in `declare_routes!`",
        router.display()
    );
    found
}

fn diff(what: &str, a: &Routes, b: &Routes) -> String {
    format!(
        "{what}\n  only in the first: {:?}\n  only in the second: {:?}",
        a.difference(b).collect::<Vec<_>>(),
        b.difference(a).collect::<Vec<_>>()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_covers_every_registered_route() {
    let app = spawn_app(Backend::Sqlite).await.expect("sqlite");
    let r = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = r.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );

    let mut documented = Routes::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            assert!(
                OPENAPI_METHODS.contains(&method.as_str()),
                "{path}: unexpected key {method}"
            );
            documented.insert((method.to_ascii_uppercase(), path.clone()));
            // Every path placeholder is a declared path parameter, and nothing more.
            let mut declared: Vec<String> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| p["name"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            declared.sort();
            let mut expected = placeholders(path);
            expected.sort();
            assert_eq!(declared, expected, "{method} {path}: path parameters");
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}: no responses"
            );
        }
    }
    let listed = listed();
    assert!(
        documented == listed,
        "{}",
        diff("document vs api::routes()", &documented, &listed)
    );
    let in_source = declared_in_source();
    assert!(
        in_source == listed,
        "{}",
        diff(
            "#[utoipa::path] attributes in the source vs api::routes()",
            &in_source,
            &listed
        )
    );

    // Each route is really there: not the default 404. Authenticated ones answer 401 without a
    // session, and exactly those declare the bearer security scheme.
    for Route {
        method,
        path: template,
        handler,
        ..
    } in routes()
    {
        let method = method.as_str();
        let path = sample(template);
        let r = app.send(method.parse().unwrap(), &path, None, None).await;
        let status = r.status();
        let body = r.bytes().await.unwrap();
        let default = status == StatusCode::NOT_FOUND
            && serde_json::from_slice::<Value>(&body).ok() == Some(default_404());
        assert!(
            !default,
            "{method} {path} ({template}, {handler}) is not registered"
        );
        let op = &doc["paths"][template][method.to_ascii_lowercase()];
        let secured = op["security"].as_array().is_some_and(|s| {
            s.iter().any(|req| {
                req.get("bearer").is_some()
                    || req.get("device").is_some()
                    || req.get("peer").is_some()
            })
        });
        assert_eq!(
            status == StatusCode::UNAUTHORIZED,
            secured,
            "{method} {template}: answered {status} without a session; documented security: {}",
            op["security"]
        );
        if status != StatusCode::OK && status != StatusCode::NOT_FOUND {
            assert!(
                op["responses"][status.as_str()].is_object(),
                "{method} {template}: answered {status}, which the document does not list"
            );
        }
    }

    // The other methods on the same paths fall through to the default 404.
    let paths: BTreeSet<&str> = routes().iter().map(|r| r.path.as_str()).collect();
    for template in paths {
        for method in METHODS {
            if listed.contains(&(method.to_string(), template.to_string())) {
                continue;
            }
            let r = app
                .send(method.parse().unwrap(), &sample(template), None, None)
                .await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{method} {template}");
            assert_eq!(
                r.json::<Value>().await.unwrap(),
                default_404(),
                "{method} {template}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_self_consistent() {
    let app = spawn_app(Backend::Sqlite).await.expect("sqlite");
    let doc: Value = app
        .get("/api/v1/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();

    // Every `$ref` resolves inside the document.
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let pointer = r.strip_prefix('#').expect("local $ref");
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {r}");
    }

    // Security requirements name a declared scheme, and it is HTTP bearer.
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");

    // The documented error body is the real one: exactly `error` and `message`.
    let schema = &doc["components"]["schemas"]["ErrorBody"];
    let mut documented: Vec<&str> = schema["properties"]
        .as_object()
        .expect("ErrorBody properties")
        .keys()
        .map(String::as_str)
        .collect();
    documented.sort();
    assert_eq!(documented, ["error", "message"]);
    let real: Value = app.get("/api/v1/nope", None).await.json().await.unwrap();
    let mut real_keys: Vec<&str> = real
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    real_keys.sort();
    assert_eq!(real_keys, documented);
}
