//! `kyukit-field incident …`: the crew's side of pre-arrival (open, report, inquire, show,
//! hospitals, destination, arrive), each one signed request.

use super::StateArg;
use crate::client::{ACCEPT_FHIR, ACCEPT_JSON, system_now};
use crate::error::{Error, Result};
use crate::key::read_limited;
use crate::state::State;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub(super) enum IncidentCommand {
    /// Open an incident; with --access, seeded with the consented dataset of that scan.
    Open(IncidentOpenArgs),
    /// Send a report patch (vitals reading, JCS/GCS, activation, ETA …) from flags and/or a JSON file: what is not sent is kept.
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
pub(super) struct IncidentOpenArgs {
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
pub(super) struct IncidentIdArgs {
    #[command(flatten)]
    state: StateArg,
    /// The incident id (`id` of the `incident open` answer).
    #[arg(long)]
    id: String,
}

#[derive(Debug, Args)]
pub(super) struct IncidentShowArgs {
    #[command(flatten)]
    incident: IncidentIdArgs,
    /// Ask for the FHIR R4 document Bundle instead of the JSON incident.
    #[arg(long)]
    fhir: bool,
}

#[derive(Debug, Args)]
pub(super) struct IncidentInquireArgs {
    #[command(flatten)]
    incident: IncidentIdArgs,
    /// A hospital id (from `incident hospitals`); repeat it, or separate ids with commas, to ask
    /// several at once (at most 10).
    #[arg(long = "hospital", required = true, value_delimiter = ',')]
    hospitals: Vec<String>,
}

#[derive(Debug, Args)]
pub(super) struct IncidentDestinationArgs {
    #[command(flatten)]
    incident: IncidentIdArgs,
    /// The destination hospital's id.
    #[arg(long)]
    hospital: String,
}

/// Units are the API's: mmHg, /min, %, °C, mg/dL (docs/api.md "Pre-arrival").
#[derive(Debug, Args)]
pub(super) struct IncidentReportArgs {
    #[command(flatten)]
    incident: IncidentIdArgs,
    /// A JSON file with report fields, as `POST /api/v1/incidents/{id}/reports` takes them; the
    /// flags below override its fields.
    #[arg(long)]
    file: Option<PathBuf>,
    /// The version this patch applies to [default: the incident's current version, read first].
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
    /// Last known well, as --onset-at (required, or --last-known-well-unknown, for a stroke
    /// activation).
    #[arg(long, value_parser = parse_time, allow_hyphen_values = true)]
    last_known_well_at: Option<i64>,
    /// The last-known-well time could not be established (said explicitly).
    #[arg(long, conflicts_with = "last_known_well_at")]
    last_known_well_unknown: bool,
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
    /// An intervention, now: CODE[:DOSE_UNIT[:ROUTE]], e.g. `cpr`, `oxygen:6L/min:inhalation`,
    /// `adrenaline:1mg:iv`; repeat for several (codes in docs/api.md).
    #[arg(long = "intervention", value_parser = parse_intervention)]
    interventions: Vec<Value>,
    /// Who gave the interventions of this command (a crew member).
    #[arg(long)]
    by: Option<String>,
    /// ECG rhythm, e.g. sinus, atrial_fibrillation, vf, asystole.
    #[arg(long)]
    ecg: Option<String>,
    /// Pain score 0–10.
    #[arg(long)]
    pain: Option<i64>,
    /// Pupil diameters LEFT/RIGHT in mm, e.g. 3/3.
    #[arg(long, value_parser = parse_bp)]
    pupils: Option<(i64, i64)>,
    /// Weight in kg (children).
    #[arg(long)]
    weight_kg: Option<f64>,
    /// red, yellow, green or white (緊急度).
    #[arg(long)]
    acuity: Option<String>,
    /// The anticoagulant's last dose, as --onset-at.
    #[arg(long, value_parser = parse_time, allow_hyphen_values = true)]
    anticoagulant_last_dose_at: Option<i64>,
    /// The unit's call sign, e.g. 常総救急1.
    #[arg(long)]
    unit_call_sign: Option<String>,
    /// A direct phone number for the crew.
    #[arg(long)]
    crew_phone: Option<String>,
}

/// `CODE[:DOSE_UNIT[:ROUTE]]`: `adrenaline:1mg:iv` → code, dose 1, unit mg, route iv.
fn parse_intervention(s: &str) -> std::result::Result<Value, String> {
    let mut parts = s.splitn(3, ':');
    let code = parts.next().unwrap_or_default().trim();
    if code.is_empty() {
        return Err(format!("{s:?}: expected CODE[:DOSE_UNIT[:ROUTE]]"));
    }
    let mut v = json!({ "code": code });
    if let Some(dose) = parts.next().filter(|d| !d.is_empty()) {
        let split = dose
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{dose:?}: a dose with its unit, e.g. 1mg, 6L/min"))?;
        let (n, unit) = dose.split_at(split);
        let n: f64 = n
            .parse()
            .map_err(|_| format!("{dose:?}: a dose with its unit, e.g. 1mg, 6L/min"))?;
        v["dose"] = json!(n);
        v["dose_unit"] = json!(unit);
    }
    if let Some(route) = parts.next().filter(|r| !r.is_empty()) {
        v["route"] = json!(route);
    }
    Ok(v)
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
            (
                "last_known_well_unknown",
                self.last_known_well_unknown.then_some(Value::Bool(true)),
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
        let mut record = serde_json::Map::new();
        if !self.interventions.is_empty() {
            let list: Vec<Value> = self
                .interventions
                .iter()
                .map(|i| {
                    let mut i = i.clone();
                    if let Some(by) = &self.by {
                        i["by"] = json!(by);
                    }
                    i
                })
                .collect();
            record.insert("interventions".into(), json!(list));
        }
        let more = [
            ("ecg", self.ecg.as_ref().map(|r| json!({ "rhythm": r }))),
            ("pain", self.pain.map(|p| json!({ "score": p }))),
            (
                "pupils",
                self.pupils
                    .map(|(l, r)| json!({ "left_mm": l, "right_mm": r })),
            ),
            ("weight_kg", self.weight_kg.map(|w| json!(w))),
            ("acuity", self.acuity.as_ref().map(|a| json!(a))),
            (
                "anticoagulant_last_dose_at",
                self.anticoagulant_last_dose_at.map(|t| json!(t)),
            ),
            (
                "unit_call_sign",
                self.unit_call_sign.as_ref().map(|c| json!(c)),
            ),
            ("crew_phone", self.crew_phone.as_ref().map(|p| json!(p))),
        ];
        for (key, v) in more {
            if let Some(v) = v {
                record.insert(key.into(), v);
            }
        }
        if !record.is_empty() {
            if !body["record"].is_object() {
                body["record"] = json!({});
            }
            for (k, v) in record {
                body["record"][k] = v;
            }
        }
        Ok(body)
    }
}

pub(super) async fn incident(cmd: IncidentCommand) -> Result<Value> {
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
    use crate::cli::{Cli, Command};
    use clap::Parser;

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
    fn record_flags_build_the_record() {
        let args = report_args(&[
            "--intervention",
            "cpr",
            "--intervention",
            "adrenaline:1mg:iv",
            "--intervention",
            "oxygen:6L/min:inhalation",
            "--by",
            "救命士 鈴木",
            "--ecg",
            "vf",
            "--pain",
            "3",
            "--pupils",
            "3/4",
            "--unit-call-sign",
            "常総救急1",
        ]);
        let body = args.body().expect("body");
        let rec = &body["record"];
        assert_eq!(
            rec["interventions"][0],
            json!({"code": "cpr", "by": "救命士 鈴木"})
        );
        assert_eq!(
            rec["interventions"][1],
            json!({"code": "adrenaline", "dose": 1.0, "dose_unit": "mg", "route": "iv", "by": "救命士 鈴木"})
        );
        assert_eq!(rec["interventions"][2]["dose_unit"], "L/min");
        assert_eq!(rec["ecg"], json!({"rhythm": "vf"}));
        assert_eq!(rec["pupils"], json!({"left_mm": 3, "right_mm": 4}));
        assert_eq!(rec["unit_call_sign"], "常総救急1");
        assert!(parse_intervention("adrenaline:mg").is_err());
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
