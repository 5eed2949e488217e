//! The `kyukit-field` command line (clap).
//!
//! Every command prints one JSON document on stdout (the server's answer, or what was done).
//! Exit codes: 0 success; 1 the server refused the request or the card failed verification;
//! 2 usage, file, key or connection problems. Errors are one line on stderr:
//! `error: <code>: <message>` (for a refusal, the server's `error` and `message`).

use crate::card::CardSource;
use crate::client::{ACCEPT_FHIR, ACCEPT_JSON, BreakGlass, Client, system_now};
use crate::error::{Error, Result};
use crate::key::{DeviceKey, read_limited};
use crate::state::State;
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
    /// Verify a card offline against the issuer's JWKS; print its claims.
    Verify(VerifyArgs),
    /// Pre-arrival: open an incident, send reports, ask hospitals (受入照会), read their answers.
    #[command(subcommand)]
    Incident(IncidentCommand),
}

#[derive(Debug, Subcommand)]
enum IncidentCommand {
    /// Open an incident; with --access, seeded with the consented dataset of that scan.
    Open(IncidentOpenArgs),
    /// Send a new report version (vitals, JCS/GCS, activation, ETA …) from flags and/or a JSON file.
    Report(Box<IncidentReportArgs>),
    /// Ask one or more hospitals to accept the patient (受入照会); needs a report first.
    #[command(visible_alias = "ask")]
    Inquire(IncidentInquireArgs),
    /// Show the incident: status, report, destination and each asked hospital's answer.
    Show(IncidentShowArgs),
    /// The municipality's active hospitals: the ids `inquire` and `destination` take.
    Hospitals(StateArg),
    /// Set or change the destination hospital (the hospitals concerned are told).
    Destination(IncidentDestinationArgs),
    /// Arrived at the destination: close the incident.
    Arrive(IncidentIdArgs),
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
struct StateArg {
    /// The state file written by `enroll`.
    #[arg(long)]
    state: PathBuf,
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

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The issuer's public keys (JWKS, as served at /.well-known/jwks.json).
    #[arg(long)]
    jwks: PathBuf,
    /// A card URL, or a card file: a photo or screenshot of the QR code (PNG, JPEG), the tag's
    /// NDEF message, the raw COSE bytes or a card URL as text.
    #[arg(long)]
    card: String,
    /// Verify as of this time (seconds since the Unix epoch) instead of now.
    #[arg(long)]
    now: Option<i64>,
}

#[derive(Debug, Args)]
struct IncidentOpenArgs {
    #[command(flatten)]
    state: StateArg,
    /// The crew's incident reference (as given to `scan`).
    #[arg(long)]
    incident: String,
    /// The access id of this crew's scan or break-glass search (`access_id` of its answer): the
    /// consented dataset seeds the incident.
    #[arg(long)]
    access: Option<String>,
}

#[derive(Debug, Args)]
struct IncidentIdArgs {
    #[command(flatten)]
    state: StateArg,
    /// The incident id (`id` of the `incident open` answer).
    #[arg(long)]
    id: String,
}

#[derive(Debug, Args)]
struct IncidentShowArgs {
    #[command(flatten)]
    incident: IncidentIdArgs,
    /// Ask for the FHIR R4 document Bundle instead of the JSON incident.
    #[arg(long)]
    fhir: bool,
}

#[derive(Debug, Args)]
struct IncidentInquireArgs {
    #[command(flatten)]
    incident: IncidentIdArgs,
    /// A hospital id (from `incident hospitals`); repeat it, or separate ids with commas, to ask
    /// several at once (at most 10).
    #[arg(long = "hospital", required = true, value_delimiter = ',')]
    hospitals: Vec<String>,
}

#[derive(Debug, Args)]
struct IncidentDestinationArgs {
    #[command(flatten)]
    incident: IncidentIdArgs,
    /// The destination hospital's id.
    #[arg(long)]
    hospital: String,
}

/// Units are the API's: mmHg, /min, %, °C, mg/dL (docs/api.md "Pre-arrival").
#[derive(Debug, Args)]
struct IncidentReportArgs {
    #[command(flatten)]
    incident: IncidentIdArgs,
    /// A JSON file with report fields, as `POST /api/v1/incidents/{id}/reports` takes them; the
    /// flags below override its fields.
    #[arg(long)]
    file: Option<PathBuf>,
    /// The version this report replaces [default: the incident's current version, read first].
    #[arg(long)]
    base_version: Option<i64>,
    /// 主訴, 1–200 characters.
    #[arg(long)]
    chief_complaint: Option<String>,
    /// stroke, stemi, trauma, cardiac_arrest, sepsis, obstetric, paediatric or general.
    #[arg(long)]
    activation: Option<String>,
    /// Blood pressure as SYSTOLIC/DIASTOLIC, e.g. 150/90 (mmHg).
    #[arg(long, value_parser = parse_bp, conflicts_with_all = ["systolic_bp", "diastolic_bp"])]
    bp: Option<(i64, i64)>,
    /// mmHg.
    #[arg(long)]
    systolic_bp: Option<i64>,
    /// mmHg.
    #[arg(long)]
    diastolic_bp: Option<i64>,
    /// Beats per minute.
    #[arg(long)]
    heart_rate: Option<i64>,
    /// Breaths per minute.
    #[arg(long)]
    respiratory_rate: Option<i64>,
    /// %.
    #[arg(long)]
    spo2: Option<i64>,
    /// °C.
    #[arg(long)]
    temperature: Option<f64>,
    /// mg/dL.
    #[arg(long)]
    glucose: Option<i64>,
    /// Japan Coma Scale level: 0, I-1 … I-3, II-10 … II-30, III-100 … III-300; suffixes may be
    /// appended (II-20R, III-100RI).
    #[arg(long)]
    jcs: Option<String>,
    /// A JCS suffix (R, I or A); repeat for several.
    #[arg(long = "jcs-suffix")]
    jcs_suffixes: Vec<String>,
    /// Glasgow Coma Scale as E4V4M6 (or 4,4,6).
    #[arg(long, value_parser = parse_gcs)]
    gcs: Option<(i64, i64, i64)>,
    /// Symptom onset: Unix seconds, RFC 3339 (2026-11-21T09:15:00+09:00) or minutes/hours ago
    /// (-45m, -2h).
    #[arg(long, value_parser = parse_time, allow_hyphen_values = true)]
    onset_at: Option<i64>,
    /// Last known well, as --onset-at.
    #[arg(long, value_parser = parse_time, allow_hyphen_values = true)]
    last_known_well_at: Option<i64>,
    /// Minutes until arrival at the hospital (0–240).
    #[arg(long)]
    eta_minutes: Option<i64>,
    /// A crew member (name or call sign); repeat for several (at most 6).
    #[arg(long)]
    crew: Vec<String>,
    /// Without a scanned card: the estimated age in years.
    #[arg(long)]
    estimated_age: Option<i64>,
    /// Without a scanned card: female, male, other or unknown.
    #[arg(long)]
    sex: Option<String>,
    /// Free text for the hospital (at most 1,000 characters).
    #[arg(long)]
    notes: Option<String>,
}

fn parse_bp(s: &str) -> std::result::Result<(i64, i64), String> {
    let (sys, dia) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?}: expected SYSTOLIC/DIASTOLIC, e.g. 150/90"))?;
    let n = |v: &str| {
        v.trim()
            .parse::<i64>()
            .map_err(|_| format!("{s:?}: expected SYSTOLIC/DIASTOLIC, e.g. 150/90"))
    };
    Ok((n(sys)?, n(dia)?))
}

fn parse_gcs(s: &str) -> std::result::Result<(i64, i64, i64), String> {
    let bad = || format!("{s:?}: expected E4V4M6 or 4,4,6");
    let t = s.trim().to_ascii_uppercase();
    let parts: Vec<&str> = if let Some(evm) = t.strip_prefix('E') {
        let (e, rest) = evm.split_once('V').ok_or_else(bad)?;
        let (v, m) = rest.split_once('M').ok_or_else(bad)?;
        vec![e, v, m]
    } else {
        t.split([',', '/']).collect()
    };
    match parts.as_slice() {
        [e, v, m] => {
            let n = |x: &str| x.trim().parse::<i64>().map_err(|_| bad());
            Ok((n(e)?, n(v)?, n(m)?))
        }
        _ => Err(bad()),
    }
}

/// Unix seconds, an RFC 3339 time, or `-<n>m` / `-<n>h` before now.
fn parse_time(s: &str) -> std::result::Result<i64, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<i64>() {
        return Ok(secs);
    }
    if let Some(ago) = t.strip_prefix('-') {
        let (n, unit) = ago.split_at(ago.len().saturating_sub(1));
        let mult = match unit {
            "m" => 60,
            "h" => 3600,
            _ => 0,
        };
        if let (Ok(n), true) = (n.parse::<i64>(), mult > 0) {
            return Ok(system_now() - n * mult);
        }
    }
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .map(|d| d.unix_timestamp())
        .map_err(|_| {
            format!(
                "{s:?}: expected Unix seconds, an RFC 3339 time or minutes/hours ago (-45m, -2h)"
            )
        })
}

/// Splits suffixes written onto a JCS level (`II-20RI` → `II-20`, `R`, `I`).
fn split_jcs(level: &str) -> (String, Vec<String>) {
    let level = level.trim();
    let cut = level
        .char_indices()
        .rev()
        .take_while(|(_, c)| "RIAria".contains(*c))
        .last()
        .map(|(i, _)| i);
    match cut {
        Some(i) if level[..i].ends_with(|c: char| c.is_ascii_digit()) => (
            level[..i].to_string(),
            level[i..]
                .chars()
                .map(|c| c.to_ascii_uppercase().to_string())
                .collect(),
        ),
        _ => (level.to_string(), Vec::new()),
    }
}

impl IncidentReportArgs {
    /// The report body: the file's fields, then the flags given (without `base_version` unless
    /// the file or `--base-version` has it).
    fn body(&self) -> Result<Value> {
        let mut body = match &self.file {
            Some(path) => {
                let bytes = read_limited(path, 64 * 1024)?;
                let v: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| Error::Usage(format!("{}: not JSON: {e}", path.display())))?;
                if !v.is_object() {
                    return Err(Error::Usage(format!(
                        "{}: a report is a JSON object",
                        path.display()
                    )));
                }
                v
            }
            None => json!({}),
        };
        let (sys, dia) = match self.bp {
            Some((s, d)) => (Some(s), Some(d)),
            None => (self.systolic_bp, self.diastolic_bp),
        };
        let vitals = [
            ("systolic_bp", sys.map(|v| json!(v))),
            ("diastolic_bp", dia.map(|v| json!(v))),
            ("heart_rate", self.heart_rate.map(|v| json!(v))),
            ("respiratory_rate", self.respiratory_rate.map(|v| json!(v))),
            ("spo2", self.spo2.map(|v| json!(v))),
            ("temperature", self.temperature.map(|v| json!(v))),
            ("glucose", self.glucose.map(|v| json!(v))),
        ];
        for (key, v) in vitals {
            if let Some(v) = v {
                if !body["vitals"].is_object() {
                    body["vitals"] = json!({});
                }
                body["vitals"][key] = v;
            }
        }
        let jcs = match &self.jcs {
            Some(level) => {
                let (level, mut suffixes) = split_jcs(level);
                suffixes.extend(self.jcs_suffixes.iter().cloned());
                (Some(json!(level)), Some(json!(suffixes)))
            }
            None if !self.jcs_suffixes.is_empty() => (None, Some(json!(self.jcs_suffixes))),
            None => (None, None),
        };
        // Each flag given overrides the same field of `--file`.
        let fields = [
            ("base_version", self.base_version.map(|v| json!(v))),
            (
                "chief_complaint",
                self.chief_complaint.as_ref().map(|v| json!(v)),
            ),
            ("activation", self.activation.as_ref().map(|v| json!(v))),
            ("jcs", jcs.0),
            ("jcs_suffixes", jcs.1),
            (
                "gcs",
                self.gcs.map(|(e, v, m)| json!({"e": e, "v": v, "m": m})),
            ),
            ("onset_at", self.onset_at.map(|v| json!(v))),
            (
                "last_known_well_at",
                self.last_known_well_at.map(|v| json!(v)),
            ),
            ("eta_minutes", self.eta_minutes.map(|v| json!(v))),
            ("crew", (!self.crew.is_empty()).then(|| json!(self.crew))),
            ("estimated_age", self.estimated_age.map(|v| json!(v))),
            ("sex", self.sex.as_ref().map(|v| json!(v))),
            ("notes", self.notes.as_ref().map(|v| json!(v))),
        ];
        for (key, v) in fields {
            if let Some(v) = v {
                body[key] = v;
            }
        }
        Ok(body)
    }
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
    };
    state.save(&state_path)?;
    Ok(json!({
        "device_id": enrolled.device_id,
        "facility_id": enrolled.facility_id,
        "label": enrolled.label,
        "key_file": key_file,
        "state": state_path,
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
    let jwks = read_limited(&a.jwks, kyukit_card::MAX_JWKS_LEN as u64)?;
    let source = CardSource::from_input(&a.card)?;
    let card = crate::card::verify_source(&source, &jwks, a.now.unwrap_or_else(system_now))?;
    serde_json::to_value(&card)
        .map_err(|e| Error::InvalidResponse(format!("cannot print the card: {e}")))
}

async fn incident(cmd: IncidentCommand) -> Result<Value> {
    let state_file = match &cmd {
        IncidentCommand::Open(a) => &a.state,
        IncidentCommand::Report(a) => &a.incident.state,
        IncidentCommand::Inquire(a) => &a.incident.state,
        IncidentCommand::Show(a) => &a.incident.state,
        IncidentCommand::Hospitals(a) => a,
        IncidentCommand::Destination(a) => &a.incident.state,
        IncidentCommand::Arrive(a) => &a.state,
    };
    let client = State::load(&state_file.state)?.client()?;
    match cmd {
        IncidentCommand::Open(a) => client.open_incident(&a.incident, a.access.as_deref()).await,
        IncidentCommand::Report(a) => {
            let mut body = a.body()?;
            if body.get("base_version").is_none() {
                let current = client.incident(&a.incident.id, ACCEPT_JSON).await?;
                let version = current
                    .get("version")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| Error::InvalidResponse("the incident has no version".into()))?;
                body["base_version"] = json!(version);
            }
            client.send_report(&a.incident.id, &body).await
        }
        IncidentCommand::Inquire(a) => {
            let ids: Vec<&str> = a
                .hospitals
                .iter()
                .map(|h| h.trim())
                .filter(|h| !h.is_empty())
                .collect();
            client.inquire(&a.incident.id, &ids).await
        }
        IncidentCommand::Show(a) => {
            let accept = if a.fhir { ACCEPT_FHIR } else { ACCEPT_JSON };
            client.incident(&a.incident.id, accept).await
        }
        IncidentCommand::Hospitals(_) => client.hospitals().await,
        IncidentCommand::Destination(a) => {
            client.set_destination(&a.incident.id, &a.hospital).await
        }
        IncidentCommand::Arrive(a) => client.arrive(&a.id).await,
    }
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
        ] {
            Cli::try_parse_from(argv).unwrap();
        }
        assert!(Cli::try_parse_from(["kyukit-field", "scan", "--state", "s"]).is_err());
    }

    fn report_args(argv: &[&str]) -> IncidentReportArgs {
        let full: Vec<&str> = [
            "kyukit-field",
            "incident",
            "report",
            "--state",
            "s.json",
            "--id",
            "i1",
        ]
        .iter()
        .chain(argv)
        .copied()
        .collect();
        match Cli::try_parse_from(full).unwrap().command {
            Command::Incident(IncidentCommand::Report(a)) => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn incident_commands_parse() {
        for argv in [
            &[
                "kyukit-field",
                "incident",
                "open",
                "--state",
                "s.json",
                "--incident",
                "R8-1",
                "--access",
                "a1",
            ][..],
            &[
                "kyukit-field",
                "incident",
                "open",
                "--state",
                "s.json",
                "--incident",
                "R8-1",
            ],
            &[
                "kyukit-field",
                "incident",
                "inquire",
                "--state",
                "s.json",
                "--id",
                "i1",
                "--hospital",
                "h1",
                "--hospital",
                "h2",
            ],
            &[
                "kyukit-field",
                "incident",
                "ask",
                "--state",
                "s.json",
                "--id",
                "i1",
                "--hospital",
                "h1,h2",
            ],
            &[
                "kyukit-field",
                "incident",
                "show",
                "--state",
                "s.json",
                "--id",
                "i1",
                "--fhir",
            ],
            &["kyukit-field", "incident", "hospitals", "--state", "s.json"],
            &[
                "kyukit-field",
                "incident",
                "destination",
                "--state",
                "s.json",
                "--id",
                "i1",
                "--hospital",
                "h1",
            ],
            &[
                "kyukit-field",
                "incident",
                "arrive",
                "--state",
                "s.json",
                "--id",
                "i1",
            ],
        ] {
            Cli::try_parse_from(argv).unwrap();
        }
        match Cli::try_parse_from([
            "kyukit-field",
            "incident",
            "ask",
            "--state",
            "s",
            "--id",
            "i",
            "--hospital",
            "h1,h2",
            "--hospital",
            "h3",
        ])
        .unwrap()
        .command
        {
            Command::Incident(IncidentCommand::Inquire(a)) => {
                assert_eq!(a.hospitals, ["h1", "h2", "h3"])
            }
            other => panic!("{other:?}"),
        }
        // An inquiry needs a hospital; --bp and --systolic-bp exclude each other.
        assert!(
            Cli::try_parse_from([
                "kyukit-field",
                "incident",
                "inquire",
                "--state",
                "s",
                "--id",
                "i"
            ])
            .is_err()
        );
        assert!(
            Cli::try_parse_from([
                "kyukit-field",
                "incident",
                "report",
                "--state",
                "s",
                "--id",
                "i",
                "--bp",
                "120/80",
                "--systolic-bp",
                "120"
            ])
            .is_err()
        );
    }

    #[test]
    fn report_body_from_flags() {
        let a = report_args(&[
            "--chief-complaint",
            "右半身麻痺",
            "--activation",
            "stroke",
            "--bp",
            "168/94",
            "--heart-rate",
            "88",
            "--spo2",
            "97",
            "--temperature",
            "36.8",
            "--jcs",
            "II-20RI",
            "--gcs",
            "E3V2M5",
            "--onset-at",
            "1795219200",
            "--eta-minutes",
            "12",
            "--crew",
            "隊長 佐藤",
            "--crew",
            "救命士 鈴木",
        ]);
        assert_eq!(
            a.body().unwrap(),
            json!({
                "chief_complaint": "右半身麻痺", "activation": "stroke",
                "vitals": {"systolic_bp": 168, "diastolic_bp": 94, "heart_rate": 88, "spo2": 97, "temperature": 36.8},
                "jcs": "II-20", "jcs_suffixes": ["R", "I"], "gcs": {"e": 3, "v": 2, "m": 5},
                "onset_at": 1_795_219_200, "eta_minutes": 12, "crew": ["隊長 佐藤", "救命士 鈴木"],
            })
        );
        // No base version unless given: the CLI reads the incident's current one.
        assert!(a.body().unwrap().get("base_version").is_none());
        assert_eq!(
            report_args(&["--base-version", "3"]).body().unwrap()["base_version"],
            3
        );
    }

    #[test]
    fn report_body_from_a_file_with_flags_on_top() {
        let dir = std::env::temp_dir().join(format!("kyukit-field-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("report.json");
        std::fs::write(
            &file,
            r#"{"base_version": 1, "chief_complaint": "胸痛", "activation": "stemi", "vitals": {"spo2": 91}, "notes": "x"}"#,
        )
        .unwrap();
        let a = report_args(&[
            "--file",
            file.to_str().unwrap(),
            "--spo2",
            "94",
            "--eta-minutes",
            "5",
        ]);
        let body = a.body().unwrap();
        assert_eq!(body["vitals"], json!({"spo2": 94}));
        assert_eq!(
            (
                body["base_version"].clone(),
                body["eta_minutes"].clone(),
                body["notes"].clone()
            ),
            (json!(1), json!(5), json!("x"))
        );
        std::fs::write(&file, "[1, 2]").unwrap();
        assert!(matches!(
            report_args(&["--file", file.to_str().unwrap()]).body(),
            Err(Error::Usage(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn value_parsers() {
        assert_eq!(parse_bp("150/90"), Ok((150, 90)));
        assert!(parse_bp("150").is_err());
        assert_eq!(parse_gcs("e4v4m6"), Ok((4, 4, 6)));
        assert_eq!(parse_gcs("4,5,6"), Ok((4, 5, 6)));
        assert!(parse_gcs("E4V4").is_err());
        assert_eq!(parse_time("1795219200"), Ok(1_795_219_200));
        assert_eq!(parse_time("2026-11-21T09:00:00+09:00"), Ok(1_795_219_200));
        let ago = parse_time("-45m").unwrap();
        assert!((system_now() - 45 * 60 - ago).abs() <= 2);
        assert!((system_now() - 7200 - parse_time("-2h").unwrap()).abs() <= 2);
        assert!(parse_time("yesterday").is_err());
        assert_eq!(
            split_jcs("III-100ri"),
            ("III-100".into(), vec!["R".into(), "I".into()])
        );
        assert_eq!(split_jcs("I-1"), ("I-1".into(), vec![]));
        assert_eq!(split_jcs("0"), ("0".into(), vec![]));
        // Not a level followed by suffixes: passed on as given, for the server to judge.
        assert_eq!(split_jcs("I"), ("I".into(), vec![]));
    }
}
