//! Governance endpoints (RULES R1, R6, R15, R17): facility applications and the city's decisions,
//! change and withdrawal requests, the public directory (JSON and a server-rendered bilingual
//! page) and the city's notices. The rules live in `service::governance`.

use super::openapi::{
    BadBody, Internal, PayloadTooLarge, Unauthorized, Unavailable, UnsupportedMediaType,
};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract;
use crate::audit;
use crate::auth::Authenticated;
use crate::domain::{FacilityKind, NoticeKind};
use crate::ratelimit::Limit;
use crate::service::governance::{
    self, Application, ApplicationInput, ApplicationStatus, ChangeRequestInput, Decided,
    DecisionInput, Directory, Notice, NoticeInput, Submitted,
};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApplicationList {
    /// Pending first (oldest first), then the last 200 decided (newest first).
    pub applications: Vec<Application>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NoticeList {
    /// Published notices, newest first (at most 100).
    pub notices: Vec<Notice>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// The status token from the submission.
    pub token: String,
}

fn no_store(status: actix_web::http::StatusCode) -> actix_web::HttpResponseBuilder {
    let mut b = HttpResponse::build(status);
    b.insert_header((header::CACHE_CONTROL, "no-store"));
    b
}

/// Apply for a facility to join (no login). The answer's status token is shown once.
#[utoipa::path(
    post,
    path = "/api/v1/facility-applications",
    tag = "governance",
    params(crate::api::tenant::MunicipalityQuery),
    request_body = ApplicationInput,
    responses(
        (status = 201, description = "Submitted, pending the city's decision", body = Submitted),
        (status = 400, response = BadBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_field`, `invalid_phone`, `invalid_email`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many applications from this address this hour, or too many waiting", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
        (status = 404, description = "`municipality_unknown`: no municipality has the code in `?municipality=`", body = ErrorBody),
    )
)]
pub(crate) async fn apply(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<ApplicationInput>,
) -> Result<HttpResponse, ApiError> {
    let muni = super::tenant::public(&state, &req).await?;
    let event = audit::Event::new(audit::Action::Throttled, audit::Outcome::Denied);
    extract::limit(
        &state,
        &muni,
        Limit::ApplyAddr,
        &extract::client_addr(&req),
        event,
    )
    .await?;
    let (db, now) = (state.db.clone(), state.clock.now());
    let s = web::block(move || governance::apply(&db, &muni, &body, now)).await??;
    Ok(no_store(actix_web::http::StatusCode::CREATED).json(s))
}

/// The status and decision of an application, change or withdrawal, for the holder of its token.
#[utoipa::path(
    get,
    path = "/api/v1/facility-applications/{apid}",
    tag = "governance",
    params(("apid" = String, Path, description = "Application id"), TokenQuery, crate::api::tenant::MunicipalityQuery),
    responses(
        (status = 200, description = "The status; `notification` once decided", body = ApplicationStatus),
        (status = 400, description = "`invalid_query`: no token", body = ErrorBody),
        (status = 404, description = "No such application, or a wrong token (the same answer)", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn status(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, ApiError> {
    let muni = super::tenant::public(&state, &req).await?;
    let (db, id) = (state.db.clone(), path.into_inner());
    let token = query.into_inner().token;
    let s = web::block(move || governance::status(&db, &muni, &id, &token)).await??;
    Ok(no_store(actix_web::http::StatusCode::OK).json(s))
}

/// Applications, changes and withdrawals (city administrators): pending first.
#[utoipa::path(
    get,
    path = "/api/v1/facility-applications",
    tag = "governance",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Pending (oldest first), then decided (newest first)", body = ApplicationList),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not a city administrator", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let applications = web::block(move || governance::list(&db, &actor)).await??;
    Ok(no_store(actix_web::http::StatusCode::OK).json(ApplicationList { applications }))
}

/// Approve or reject an application, change or withdrawal (city administrators; once).
#[utoipa::path(
    post,
    path = "/api/v1/facility-applications/{apid}/decision",
    tag = "governance",
    request_body = DecisionInput,
    params(("apid" = String, Path, description = "Application id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Decided; the facility as it is now if approved", body = Decided),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not a city administrator", body = ErrorBody),
        (status = 404, description = "No such application", body = ErrorBody),
        (status = 409, description = "`already_decided`, `facility_withdrawn`", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_field` (bad decision; a rejection without a reason)", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn decide(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<String>,
    body: web::Json<DecisionInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, id) = (state.db.clone(), state.clock.now(), path.into_inner());
    let d = web::block(move || governance::decide(&db, &actor, &id, &body, now)).await??;
    Ok(HttpResponse::Ok().json(d))
}

/// Ask the city to change or withdraw a facility (its facility manager). The answer's status
/// token is shown once.
#[utoipa::path(
    post,
    path = "/api/v1/facilities/{fid}/change-requests",
    tag = "governance",
    request_body = ChangeRequestInput,
    params(("fid" = String, Path, description = "Facility id")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Submitted, pending the city's decision", body = Submitted),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not this facility's manager", body = ErrorBody),
        (status = 404, description = "No such facility", body = ErrorBody),
        (status = 409, description = "`request_pending`, `facility_withdrawn`", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_field`, `invalid_phone`, `invalid_email`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn change_request(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<String>,
    body: web::Json<ChangeRequestInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, fid) = (state.db.clone(), state.clock.now(), path.into_inner());
    let s = web::block(move || governance::request_change(&db, &actor, &fid, &body, now)).await??;
    Ok(no_store(actix_web::http::StatusCode::CREATED).json(s))
}

/// The public directory: facilities that agreed to be listed (RULES R15).
#[utoipa::path(
    get,
    path = "/api/v1/directory",
    tag = "governance",
    params(crate::api::tenant::MunicipalityQuery),
    responses(
        (status = 200, description = "Listed, active facilities", body = Directory),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
        (status = 404, description = "`municipality_unknown`: no municipality has the code in `?municipality=`", body = ErrorBody),
    )
)]
pub(crate) async fn directory(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let muni = super::tenant::public(&state, &req).await?;
    let db = state.db.clone();
    let d = web::block(move || governance::directory(&db, &muni)).await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(d))
}

/// Publish a notice (city administrators): service change, planned suspension, incident.
#[utoipa::path(
    post,
    path = "/api/v1/notices",
    tag = "governance",
    request_body = NoticeInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Published", body = Notice),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not a city administrator", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_field`; `insufficient_notice`: a termination less than 30 days ahead", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn publish_notice(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: web::Json<NoticeInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let n = web::block(move || governance::publish_notice(&db, &actor, &body, now)).await??;
    Ok(HttpResponse::Created().json(n))
}

/// Published notices, newest first (public).
#[utoipa::path(
    get,
    path = "/api/v1/notices",
    tag = "governance",
    params(crate::api::tenant::MunicipalityQuery),
    responses(
        (status = 200, description = "Published notices", body = NoticeList),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
        (status = 404, description = "`municipality_unknown`: no municipality has the code in `?municipality=`", body = ErrorBody),
    )
)]
pub(crate) async fn notices(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let muni = super::tenant::public(&state, &req).await?;
    let db = state.db.clone();
    let notices = web::block(move || governance::notices(&db, &muni)).await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(NoticeList { notices }))
}

/// Withdraw a notice (city administrators); it is kept, no longer shown.
#[utoipa::path(
    delete,
    path = "/api/v1/notices/{nid}",
    tag = "governance",
    params(("nid" = String, Path, description = "Notice id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Withdrawn", body = Notice),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not a city administrator", body = ErrorBody),
        (status = 404, description = "No such notice", body = ErrorBody),
        (status = 409, description = "`already_withdrawn`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn withdraw_notice(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, id) = (state.db.clone(), state.clock.now(), path.into_inner());
    let n = web::block(move || governance::withdraw_notice(&db, &actor, &id, now)).await??;
    Ok(HttpResponse::Ok().json(n))
}

// ---- the directory page ---------------------------------------------------------------------------

/// No scripts at all on this page: styles from our origin only.
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                        form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The language a page is shown in: `?lang=ja|en`, else the `kyukit_lang` cookie (set here and
/// by the scripted pages' ja/en switch), else Japanese.
fn page_lang(req: &HttpRequest) -> &'static str {
    let query = req
        .query_string()
        .split('&')
        .find_map(|kv| kv.strip_prefix("lang="));
    let cookie = req
        .headers()
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(';')
                .find_map(|kv| kv.trim().strip_prefix("kyukit_lang="))
        });
    match query.or(cookie) {
        Some("en") => "en",
        _ => "ja",
    }
}

/// The public overview, facility directory and notices, in Japanese and English (RULES R15, R17).
/// Both languages are in the document; the one not chosen is hidden by the stylesheet, and the
/// switch is a plain link (no script), which also remembers the choice in a cookie.
#[utoipa::path(
    get,
    path = "/pages/directory",
    tag = "pages",
    params(("lang" = Option<String>, Query, description = "`ja` (default) or `en`; remembered in the `kyukit_lang` cookie"), crate::api::tenant::MunicipalityQuery),
    responses(
        (status = 200, description = "The page, rendered on the server (no scripts)", content_type = "text/html", body = String),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
        (status = 404, description = "`municipality_unknown`: no municipality has the code in `?municipality=`", body = ErrorBody),
    )
)]
pub(crate) async fn directory_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let lang = page_lang(&req);
    let muni = super::tenant::public(&state, &req).await?;
    let db = state.db.clone();
    let (dir, notices) = web::block(move || -> Result<_, ApiError> {
        Ok((
            governance::directory(&db, &muni)?,
            governance::notices(&db, &muni)?,
        ))
    })
    .await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((
            header::SET_COOKIE,
            format!("kyukit_lang={lang}; Path=/pages; Max-Age=31536000; SameSite=Lax"),
        ))
        .content_type("text/html; charset=utf-8")
        .body(render_directory(&dir, &notices, lang)))
}

/// HTML-escapes text for element content and quoted attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escaped multi-line text: one paragraph per blank-line-separated block, `<br>` for line breaks.
fn esc_lines(s: &str) -> String {
    s.split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let lines: Vec<String> = p.lines().map(esc).collect();
            format!("<p>{}</p>", lines.join("<br>"))
        })
        .collect()
}

fn kind_label(kind: FacilityKind) -> (&'static str, &'static str) {
    match kind {
        FacilityKind::FireDepartment => ("消防本部・救急", "Fire department / ambulance"),
        FacilityKind::Hospital => ("病院", "Hospital"),
        FacilityKind::Clinic => ("診療所", "Clinic"),
        FacilityKind::Pharmacy => ("薬局", "Pharmacy"),
        FacilityKind::CareProvider => ("介護事業所", "Care provider"),
        FacilityKind::SupportCenter => ("地域包括支援センター", "Community support centre"),
    }
}

fn notice_label(kind: NoticeKind, termination: bool) -> (&'static str, &'static str) {
    match (kind, termination) {
        (NoticeKind::PlannedSuspension, true) => ("サービス終了", "End of service"),
        (NoticeKind::PlannedSuspension, false) => ("計画停止", "Planned suspension"),
        (NoticeKind::Incident, _) => ("障害・インシデント", "Incident"),
        (NoticeKind::ServiceChange, _) => ("サービス変更", "Service change"),
    }
}

/// A time in Japan Standard Time, `YYYY-MM-DD HH:MM`.
fn jst(t: i64) -> String {
    crate::jst::minute_text(t)
}

/// Both languages of a phrase; the stylesheet shows the page's language only.
fn bi(ja: &str, en: &str) -> String {
    format!(r#"<span class="l-ja" lang="ja">{ja}</span><span class="l-en" lang="en">{en}</span>"#)
}

fn render_directory(dir: &Directory, notices: &[Notice], lang: &str) -> String {
    let muni_ja = esc(&dir.municipality_ja);
    let muni_en = esc(&dir.municipality_en);
    let (other, other_label) = if lang == "ja" {
        ("en", r#"<span lang="en">English</span>"#)
    } else {
        ("ja", r#"<span lang="ja">日本語</span>"#)
    };
    let mut h = String::with_capacity(8192);
    let _ = write!(
        h,
        r#"<!doctype html>
<html lang="{lang}" class="lang-{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/pages/assets/pages.css">
</head>
<body>
<header>
  <h1>{h1}</h1>
  <a id="lang" class="button lang-switch" href="?lang={other}" hreflang="{other}">{other_label}</a>
</header>
<main>
<section id="overview">
  <h2>{about}</h2>
  <p class="l-ja" lang="ja">救急キットは、{muni_ja}が運営する救急医療情報の共有の仕組みです。住民の方が同意した情報（お薬、アレルギー、持病、緊急連絡先など）を登録し、カードの二次元コードやNFCから、救急隊や病院が必要なときに確認できます。誰がいつ見たかはすべて記録され、本人が確認できます。</p>
  <p class="l-en" lang="en">Kyukit is {muni_en}'s system for sharing emergency medical information. Residents record what they agree to share (medications, allergies, conditions, emergency contacts and more); ambulance crews and hospitals read it from the QR code or NFC tag of the resident's card when they need it. Every access is recorded, and residents can see who looked.</p>
  <p class="l-ja" lang="ja">このページは、参加に同意して掲載を希望した施設の名称・連絡先と、運営からのお知らせを公開するものです。掲載の内容は市が管理しています。</p>
  <p class="l-en" lang="en">This page lists the names and contacts of participating facilities that agreed to be listed, and the city's notices. The city maintains it.</p>
  <p><a href="/pages/resident">{portal}</a></p>
</section>
"#,
        title = if lang == "ja" {
            format!("救急キット 参加施設・お知らせ — {muni_ja}")
        } else {
            format!("Kyukit participating facilities and notices — {muni_en}")
        },
        h1 = bi(
            &format!("救急キット — {muni_ja}"),
            &format!("Kyukit — {muni_en}")
        ),
        about = bi("救急キットとは", "What Kyukit is"),
        portal = bi(
            "住民の方の登録・ログインはこちら",
            "Residents: register or log in here"
        ),
    );
    let _ = write!(
        h,
        "<section id=\"notices\">\n  <h2>{}</h2>\n",
        bi("お知らせ", "Notices")
    );
    if notices.is_empty() {
        let _ = writeln!(
            h,
            "  <p>{}</p>",
            bi("現在お知らせはありません。", "No notices at present.")
        );
    }
    for n in notices {
        let (label_ja, label_en) = notice_label(n.kind, n.termination);
        let _ = write!(
            h,
            "  <article class=\"notice {kind}\">\n    <h3><span class=\"badge\">{label}</span> {title}</h3>\n    <p>{published}: {published_at} JST",
            kind = esc(n.kind.as_str()),
            label = bi(label_ja, label_en),
            title = bi(&esc(&n.title_ja), &esc(&n.title_en)),
            published = bi("掲載", "Published"),
            published_at = jst(n.published_at),
        );
        if let Some(s) = n.starts_at {
            let _ = write!(h, " · {}: {} JST", bi("開始", "Starts"), jst(s));
        }
        if let Some(e) = n.ends_at {
            let _ = write!(h, " · {}: {} JST", bi("終了", "Ends"), jst(e));
        }
        let _ = write!(
            h,
            "</p>\n    <div class=\"l-ja\" lang=\"ja\">{}</div>\n    <div class=\"l-en\" lang=\"en\">{}</div>\n  </article>\n",
            esc_lines(&n.body_ja),
            esc_lines(&n.body_en)
        );
    }
    h.push_str("</section>\n");
    let _ = write!(
        h,
        "<section id=\"facilities\">\n  <h2>{}</h2>\n",
        bi("参加施設", "Participating facilities")
    );
    if dir.facilities.is_empty() {
        let _ = writeln!(
            h,
            "  <p>{}</p>",
            bi(
                "掲載されている施設はまだありません。",
                "No facilities are listed yet."
            )
        );
    } else {
        let (kind_h, name_h, addr_h, phone_h) = if lang == "ja" {
            ("種別", "名称", "所在地", "電話")
        } else {
            ("Kind", "Name", "Address", "Phone")
        };
        let _ = write!(
            h,
            "  <table>\n    <thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead>\n    <tbody>\n",
            bi("種別", "Kind"),
            bi("名称", "Name"),
            bi("所在地", "Address"),
            bi("電話", "Phone"),
        );
        for f in &dir.facilities {
            let (kind_ja, kind_en) = kind_label(f.kind);
            let phone = esc(&f.phone);
            let tel: String = f
                .phone
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .collect();
            let _ = writeln!(
                h,
                "      <tr><td data-label=\"{kind_h}\">{kind}</td><td data-label=\"{name_h}\">{name}</td><td data-label=\"{addr_h}\" translate=\"no\">{address}</td><td data-label=\"{phone_h}\"><a href=\"tel:{tel}\">{phone}</a></td></tr>",
                kind = bi(kind_ja, kind_en),
                name = bi(&esc(&f.name_ja), &esc(&f.name_en)),
                address = esc(&f.address),
                tel = esc(&tel),
            );
        }
        h.push_str("    </tbody>\n  </table>\n");
    }
    h.push_str("</section>\n");
    let _ = write!(
        h,
        "<section id=\"apply\">\n  <h2>{}</h2>\n  <p class=\"l-ja\" lang=\"ja\">医療機関・薬局・介護事業所・消防などの施設は、市に参加を申請できます。市が審査し、結果は申請のあとに表示される申請状況のページで確認できます。</p>\n  <p class=\"l-en\" lang=\"en\">Hospitals, clinics, pharmacies, care providers, fire departments and support centres apply to the city to join. The city reviews each application; the page for your application, given when you apply, shows the result.</p>\n  <p><a id=\"apply-link\" href=\"/pages/apply\">{}</a></p>\n</section>\n</main>\n</body>\n</html>\n",
        bi("参加の申請", "Applying to join"),
        bi(
            "参加を申請する（申請フォーム）",
            "Apply to join (application form)"
        )
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_it_renders() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(esc_lines("a<b\nc\n\nd"), "<p>a&lt;b<br>c</p><p>d</p>");
        let dir = Directory {
            municipality_ja: "<市>".into(),
            municipality_en: "\"City\"".into(),
            facilities: vec![governance::DirectoryEntry {
                kind: FacilityKind::Clinic,
                name_ja: "<img src=x onerror=alert(1)>".into(),
                name_en: "a&b".into(),
                address: "'addr'".into(),
                phone: "0297-00-0000".into(),
            }],
        };
        let html = render_directory(&dir, &[], "ja");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("&lt;市&gt;") && html.contains("&quot;City&quot;"));
        assert!(html.contains("href=\"tel:0297000000\""));
    }

    #[test]
    fn times_are_shown_in_japan() {
        // 2026-11-21T00:00:00Z is 09:00 in Japan.
        assert_eq!(jst(1_795_219_200), "2026-11-21 09:00");
    }
}
