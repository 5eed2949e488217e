//! The `kyukit-field` command line (clap).
//!
//! Every command prints one JSON document on stdout (the server's answer, or what was done).
//! Exit codes: 0 success; 1 the server refused the request or the card failed verification;
//! 2 usage, file, key or connection problems. Errors are one line on stderr:
//! `error: <code>: <message>` (for a refusal, the server's `error` and `message`).

use crate::card::CardSource;
use crate::client::{BreakGlass, Client, system_now};
use crate::error::{Error, Result};
use crate::key::{DeviceKey, read_limited};
use crate::state::State;
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod incident;
use incident::{IncidentCommand, incident};

/// Environment variable read for the paramedic's password before falling back to stdin.
pub const PASSWORD_ENV: &str = "KYUKIT_PASSWORD";

#[derive(Debug, Parser)]
#[command(
    name = "kyukit-field",
    version,
    about = "Kyukit field client: enroll this device, log a paramedic in, scan cards, send pre-arrival reports (RFC 9421 signed requests)"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a device key (0600 PKCS#8 PEM), enroll it with a one-time code, write the state file.
    Enroll(EnrollArgs),
    /// Log a paramedic in (password from KYUKIT_PASSWORD or stdin); the session goes into the state file.
    Login(LoginArgs),
    /// End the session and remove it from the state file.
    Logout(StateArg),
    /// Scan a card: print the disclosure (JSON, or a FHIR Bundle with --fhir).
    Scan(ScanArgs),
    /// Break-glass search for a resident without a card.
    BreakGlass(BreakGlassArgs),
    /// Re-read an access while its grant lasts.
    Access(AccessArgs),
    /// Verify a card offline, against the cached trust list (--state) or an issuer's JWKS (--jwks);
    /// print its claims.
    Verify(VerifyArgs),
    /// Verify a household sticker (玄関ステッカー) offline against the issuer's JWKS; print what
    /// it points to (the household id, issuer, issue time; the members are on the server only).
    VerifyHousehold(VerifyHouseholdArgs),
    /// The signed trust list: fetch (verify against the pinned key, refuse a rollback, cache) and show.
    #[command(subcommand)]
    TrustList(TrustListCommand),
    /// Pre-arrival: open an incident, send reports, ask hospitals (受入照会), read their answers.
    #[command(subcommand)]
    Incident(IncidentCommand),
}

#[derive(Debug, Args)]
struct EnrollArgs {
    /// The Kyukit server, e.g. https://qq.city.example.lg.jp
    #[arg(long)]
    server: String,
    /// The one-time enrollment code from the facility manager.
    #[arg(long)]
    code: String,
    /// Where to create the device key (must not exist).
    #[arg(long)]
    key_file: PathBuf,
    /// A label for this device, e.g. "救急1号車 tablet".
    #[arg(long)]
    label: Option<String>,
    /// Where to write the state file [default: the key file's path with extension .json].
    #[arg(long)]
    state: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct StateArg {
    /// The state file written by `enroll`.
    #[arg(long)]
    pub(super) state: PathBuf,
}

#[derive(Debug, Args)]
struct LoginArgs {
    #[command(flatten)]
    state: StateArg,
    /// The paramedic's login id.
    #[arg(long)]
    login_id: String,
    /// The 6-digit code of the paramedic's authenticator app (staff second factor).
    #[arg(long, env = "KYUKIT_TOTP")]
    totp: Option<String>,
}

#[derive(Debug, Args)]
struct ScanArgs {
    #[command(flatten)]
    state: StateArg,
    /// A card URL, or a card file: a photo or screenshot of the QR code (PNG, JPEG), the tag's
    /// NDEF message, the raw COSE bytes or a card URL as text.
    #[arg(long)]
    card: String,
    /// The crew's incident reference.
    #[arg(long)]
    incident: String,
    /// Ask for an IPS-shaped FHIR R4 Bundle instead of the JSON disclosure.
    #[arg(long)]
    fhir: bool,
    /// The issuer's card base URL, to send a raw COSE card as a card URL [default: send its bytes
    /// as base64url].
    #[arg(long)]
    card_base: Option<String>,
}

#[derive(Debug, Args)]
struct BreakGlassArgs {
    #[command(flatten)]
    state: StateArg,
    #[arg(long)]
    family_name: String,
    #[arg(long)]
    given_name: String,
    /// YYYY-MM-DD
    #[arg(long)]
    date_of_birth: String,
    #[arg(long)]
    address: Option<String>,
    /// Why the record is needed without the card.
    #[arg(long)]
    reason: String,
    /// The crew's incident reference.
    #[arg(long)]
    incident: String,
    #[arg(long)]
    fhir: bool,
}

#[derive(Debug, Args)]
struct AccessArgs {
    #[command(flatten)]
    state: StateArg,
    /// The access id (from a scan or break-glass answer).
    #[arg(long)]
    id: String,
    #[arg(long)]
    fhir: bool,
}

#[derive(Debug, Subcommand)]
enum TrustListCommand {
    /// Fetch the trust list, verify it against the key pinned at enrollment, refuse one older
    /// than the cached list, and cache it next to the state file.
    Fetch(TrustListArgs),
    /// Print the cached trust list (verified again: a tampered or expired cache is refused).
    Show(TrustListArgs),
}

#[derive(Debug, Args)]
struct TrustListArgs {
    #[command(flatten)]
    state: StateArg,
    /// Check the expiry as of this time (seconds since the Unix epoch) instead of now.
    #[arg(long)]
    now: Option<i64>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("trust").required(true).args(["jwks", "state"])))]
struct VerifyArgs {
    /// The issuer's public keys (JWKS, as served at /.well-known/jwks.json).
    #[arg(long)]
    jwks: Option<PathBuf>,
    /// A state file: verify against its cached trust list (`trust-list fetch`), offline.
    #[arg(long)]
    state: Option<PathBuf>,
    /// A card URL, or a card file: a photo or screenshot of the QR code (PNG, JPEG), the tag's
    /// NDEF message, the raw COSE bytes or a card URL as text.
    #[arg(long)]
    card: String,
    /// Verify as of this time (seconds since the Unix epoch) instead of now.
    #[arg(long)]
    now: Option<i64>,
}

#[derive(Debug, Args)]
struct VerifyHouseholdArgs {
    /// The issuer's public keys (JWKS, as served at /.well-known/jwks.json), kept on the device.
    #[arg(long)]
    jwks: PathBuf,
    /// A sticker URL (https://…/h/<digits>), or a sticker file: a photo or screenshot of its QR
    /// code (PNG, JPEG), the URL as text, or the raw COSE bytes.
    #[arg(long)]
    sticker: String,
}

/// Parses the command line, runs the command, maps the outcome to the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let line = format!("error: {}: {}", e.code(), e.message()).replace(['\n', '\r'], " ");
            eprintln!("{line}");
            ExitCode::from(if e.is_refusal() { 1 } else { 2 })
        }
    }
}

/// Runs one parsed command and prints its JSON on stdout.
pub fn run(cli: Cli) -> Result<()> {
    print_json(&execute(cli)?)
}

/// Parses `args` (without the program name) and runs the command like the binary does, but
/// returns its JSON instead of printing it, and a usage error as [`Error::Usage`] instead of
/// exiting. Blocks (it runs its own runtime): from async code call it on a blocking thread.
/// `login` reads the password from `KYUKIT_PASSWORD` or stdin, as the binary does.
pub fn execute_args<I, T>(args: I) -> Result<Value>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv =
        std::iter::once(OsString::from("kyukit-field")).chain(args.into_iter().map(Into::into));
    let cli = Cli::try_parse_from(argv).map_err(|e| Error::Usage(e.to_string()))?;
    execute(cli)
}

/// Runs one parsed command; returns the JSON it prints.
pub fn execute(cli: Cli) -> Result<Value> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))?;
    match cli.command {
        Command::Enroll(a) => rt.block_on(enroll(a)),
        Command::Login(a) => rt.block_on(login(a)),
        Command::Logout(a) => rt.block_on(logout(a)),
        Command::Scan(a) => rt.block_on(scan(a)),
        Command::BreakGlass(a) => rt.block_on(break_glass(a)),
        Command::Access(a) => rt.block_on(access(a)),
        Command::Verify(a) => verify(a),
        Command::VerifyHousehold(a) => verify_household(a),
        Command::TrustList(TrustListCommand::Fetch(a)) => rt.block_on(trust_list_fetch(a)),
        Command::TrustList(TrustListCommand::Show(a)) => trust_list_show(a),
        Command::Incident(c) => rt.block_on(incident(c)),
    }
}

fn print_json(v: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(v)
        .map_err(|e| Error::InvalidResponse(format!("cannot print the answer: {e}")))?;
    // A closed pipe (`| head`) is not an error worth a panic: stop writing quietly.
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::io("<stdout>", e)),
        _ => Ok(()),
    }
}

fn refuse_existing(path: &Path, what: &str) -> Result<()> {
    if path.exists() {
        return Err(Error::Usage(format!(
            "{what} {} already exists; refusing to overwrite it",
            path.display()
        )));
    }
    Ok(())
}

async fn enroll(a: EnrollArgs) -> Result<Value> {
    let state_path = match &a.state {
        Some(p) => p.clone(),
        None => State::default_path(&a.key_file)?,
    };
    refuse_existing(&a.key_file, "key file")?;
    refuse_existing(&state_path, "state file")?;
    // Validate the server URL before creating anything.
    let key = DeviceKey::generate()?;
    let mut client = Client::new(&a.server, key.clone())?;
    // The key is on disk before the server knows it, so an enrolled device always has its key.
    key.save(&a.key_file)?;
    let enrolled = match client.enroll(&a.code, a.label.as_deref()).await {
        Ok(e) => e,
        Err(e) => {
            // Nobody else can have this key: remove the file this run created.
            let _ = std::fs::remove_file(&a.key_file);
            return Err(e);
        }
    };
    let key_file = std::path::absolute(&a.key_file).map_err(|e| Error::io(&a.key_file, e))?;
    let state = State {
        server: client.base_url().to_string(),
        device_id: enrolled.device_id.clone(),
        key_file: key_file.clone(),
        facility_id: Some(enrolled.facility_id.clone()),
        label: enrolled.label.clone(),
        session: None,
        trust_list_key: enrolled.trust_list_key.clone(),
    };
    state.save(&state_path)?;
    Ok(json!({
        "device_id": enrolled.device_id,
        "facility_id": enrolled.facility_id,
        "label": enrolled.label,
        "key_file": key_file,
        "state": state_path,
        "trust_list_key": enrolled.trust_list_key.as_ref().and_then(|k| k.kid.clone()),
    }))
}

/// The password from `KYUKIT_PASSWORD`, else the first line of stdin (prompting on a terminal).
fn read_password() -> Result<String> {
    if let Ok(p) = std::env::var(PASSWORD_ENV)
        && !p.is_empty()
    {
        return Ok(p);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::io("<stdin>", e))?;
    let p = line.trim_end_matches(['\n', '\r']).to_string();
    if p.is_empty() {
        return Err(Error::Usage(format!(
            "no password: set {PASSWORD_ENV} or give it on stdin"
        )));
    }
    Ok(p)
}

async fn login(a: LoginArgs) -> Result<Value> {
    let mut state = State::load(&a.state.state)?;
    let mut client = state.client()?;
    let password = read_password()?;
    client
        .login(&a.login_id, &password, a.totp.as_deref())
        .await?;
    state.session = client.session().map(str::to_string);
    state.save(&a.state.state)?;
    Ok(json!({"device_id": state.device_id, "logged_in": true}))
}

async fn logout(a: StateArg) -> Result<Value> {
    let mut state = State::load(&a.state)?;
    let mut client = state.client()?;
    let outcome = client.logout().await;
    // The token is a secret: drop it from disk whatever the server said (a refused logout means
    // the session is unusable anyway).
    if state.session.take().is_some() {
        state.save(&a.state)?;
    }
    outcome?;
    Ok(json!({"device_id": state.device_id, "logged_in": false}))
}

async fn scan(a: ScanArgs) -> Result<Value> {
    let state = State::load(&a.state.state)?;
    let client = state.client()?;
    let source = CardSource::from_input(&a.card)?;
    let card = source.to_scan_value(a.card_base.as_deref())?;
    if a.fhir {
        client.scan_fhir(&card, &a.incident).await
    } else {
        client.scan(&card, &a.incident).await
    }
}

async fn break_glass(a: BreakGlassArgs) -> Result<Value> {
    let state = State::load(&a.state.state)?;
    let client = state.client()?;
    let req = BreakGlass {
        family_name: a.family_name,
        given_name: a.given_name,
        date_of_birth: a.date_of_birth,
        address: a.address,
        reason: a.reason,
        incident_ref: a.incident,
    };
    if a.fhir {
        client.break_glass_fhir(&req).await
    } else {
        client.break_glass(&req).await
    }
}

async fn access(a: AccessArgs) -> Result<Value> {
    let state = State::load(&a.state.state)?;
    let client = state.client()?;
    if a.fhir {
        client.access_fhir(&a.id).await
    } else {
        client.access(&a.id).await
    }
}

fn verify(a: VerifyArgs) -> Result<Value> {
    let source = CardSource::from_input(&a.card)?;
    let now = a.now.unwrap_or_else(system_now);
    let card = match (&a.jwks, &a.state) {
        (Some(jwks), _) => {
            let jwks = read_limited(jwks, kyukit_card::MAX_JWKS_LEN as u64)?;
            crate::card::verify_source(&source, &jwks, now)?
        }
        (None, Some(state_path)) => {
            let (list, _) = cached_trust_list(state_path, now)?;
            crate::trust::verify_card(&source, &list, now)?
        }
        (None, None) => return Err(Error::Usage("give --jwks or --state".into())),
    };
    serde_json::to_value(&card)
        .map_err(|e| Error::InvalidResponse(format!("cannot print the card: {e}")))
}

fn verify_household(a: VerifyHouseholdArgs) -> Result<Value> {
    let jwks = read_limited(&a.jwks, kyukit_card::MAX_JWKS_LEN as u64)?;
    let sticker = crate::household::verify_sticker(&a.sticker, &jwks)?;
    Ok(json!({
        "kind": "household_sticker",
        "kid": sticker.kid.to_b64(),
        "household_id": sticker.claims.household_id.to_hex(),
        "iss": sticker.claims.issuer,
        "iat": sticker.claims.issued_at,
        "members": "not on the sticker: a signed scan of it lists the members who consented (POST /api/v1/household-scans)",
    }))
}

/// The state's pinned trust-list key.
fn pinned(state: &State, state_path: &Path) -> Result<kyukit_card::PublicKey> {
    let jwk = state.trust_list_key.as_ref().ok_or_else(|| {
        Error::Usage(format!(
            "{} has no pinned trust-list key (enrolled before trust lists): enroll the device again",
            state_path.display()
        ))
    })?;
    crate::trust::pinned_key(jwk)
}

fn cached_trust_list(
    state_path: &Path,
    now: i64,
) -> Result<(kyukit_card::VerifiedTrustList, PathBuf)> {
    let state = State::load(state_path)?;
    let key = pinned(&state, state_path)?;
    let cache = crate::trust::cache_path(state_path);
    Ok((crate::trust::load_cached(&key, &cache, now)?, cache))
}

fn trust_list_summary(v: &kyukit_card::VerifiedTrustList, cache: &Path) -> Value {
    json!({
        "version": v.list.version,
        "issued_at": v.list.issued_at,
        "expires_at": v.list.expires_at,
        "signer": v.signer.to_b64(),
        "deployment": v.list.deployment.id,
        "issuers": v.list.issuers.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
        "cache": cache,
    })
}

async fn trust_list_fetch(a: TrustListArgs) -> Result<Value> {
    let state = State::load(&a.state.state)?;
    let key = pinned(&state, &a.state.state)?;
    let client = state.client()?;
    let cache = crate::trust::cache_path(&a.state.state);
    let now = a.now.unwrap_or_else(system_now);
    let v = crate::trust::fetch(&client, &key, &cache, now).await?;
    Ok(trust_list_summary(&v, &cache))
}

fn trust_list_show(a: TrustListArgs) -> Result<Value> {
    let (v, cache) = cached_trust_list(&a.state.state, a.now.unwrap_or_else(system_now))?;
    let mut out = serde_json::to_value(&v)
        .map_err(|e| Error::InvalidResponse(format!("cannot print the trust list: {e}")))?;
    out["cache"] = json!(cache);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_the_documented_usage() {
        for argv in [
            &[
                "kyukit-field",
                "enroll",
                "--server",
                "http://127.0.0.1:8080",
                "--code",
                "ABCD-EFGH",
                "--key-file",
                "k.pem",
                "--label",
                "救急1号車",
            ][..],
            &[
                "kyukit-field",
                "login",
                "--state",
                "s.json",
                "--login-id",
                "p1",
            ],
            &[
                "kyukit-field",
                "scan",
                "--state",
                "s.json",
                "--card",
                "https://x/c/1",
                "--incident",
                "R-1",
                "--fhir",
            ],
            &[
                "kyukit-field",
                "break-glass",
                "--state",
                "s.json",
                "--family-name",
                "山田",
                "--given-name",
                "太郎",
                "--date-of-birth",
                "1950-01-02",
                "--reason",
                "unconscious, no card",
                "--incident",
                "R-2",
            ],
            &["kyukit-field", "access", "--state", "s.json", "--id", "ab"],
            &["kyukit-field", "logout", "--state", "s.json"],
            &["kyukit-field", "trust-list", "fetch", "--state", "s.json"],
            &[
                "kyukit-field",
                "trust-list",
                "show",
                "--state",
                "s.json",
                "--now",
                "1",
            ],
            &[
                "kyukit-field",
                "verify",
                "--state",
                "s.json",
                "--card",
                "https://x/c/1",
            ],
            &[
                "kyukit-field",
                "verify",
                "--jwks",
                "j.json",
                "--card",
                "https://x/c/1",
                "--now",
                "1800000000",
            ],
            &[
                "kyukit-field",
                "verify-household",
                "--jwks",
                "j.json",
                "--sticker",
                "https://x/h/1",
            ],
        ] {
            Cli::try_parse_from(argv).unwrap();
        }
        assert!(Cli::try_parse_from(["kyukit-field", "scan", "--state", "s"]).is_err());
        // verify needs exactly one of --jwks and --state.
        assert!(Cli::try_parse_from(["kyukit-field", "verify", "--card", "u"]).is_err());
        assert!(
            Cli::try_parse_from([
                "kyukit-field",
                "verify",
                "--card",
                "u",
                "--jwks",
                "j",
                "--state",
                "s"
            ])
            .is_err()
        );
    }
}
