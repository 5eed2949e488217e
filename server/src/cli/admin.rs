//! `kyukit admin create`: staff accounts from the command line (the first city administrator).
//! The password is read from `KYUKIT_ADMIN_PASSWORD` or, if unset, from one line on standard input,
//! so it never appears in the process list or shell history.

use super::serve::ServeArgs;
use crate::clock::{Clock, SystemClock};
use crate::service::accounts;
use crate::startup;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a staff account (default role: city_admin).
    Create(CreateArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    server: ServeArgs,
    /// Login id (3–64 of a-z 0-9 . _ @ -).
    #[arg(long)]
    login_id: String,
    /// Display name.
    #[arg(long)]
    name: String,
    /// city_admin, facility_manager, paramedic, ed_staff or disaster_responder.
    #[arg(long, default_value = "city_admin")]
    role: String,
    /// The facility id, for paramedics, ED staff and facility managers.
    #[arg(long)]
    facility: Option<String>,
    /// The municipality's code (default: the deployment's default municipality).
    #[arg(long)]
    municipality: Option<String>,
    /// The user's profession (RULES R3), e.g. city_staff, physician, nurse, paramedic.
    #[arg(long)]
    profession: Option<String>,
}

pub fn run(cmd: AdminCommand) -> Result<(), String> {
    let AdminCommand::Create(a) = cmd;
    let password = match std::env::var("KYUKIT_ADMIN_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            eprintln!("password (10–128 characters), then Enter:");
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| e.to_string())?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let config = a.server.config()?;
    let clock = SystemClock;
    let (db, default) = startup::open(&config, &clock).map_err(|e| e.to_string())?;
    let muni = super::municipality::resolve(&db, &default, a.municipality.as_deref())?;
    let staff = accounts::NewStaff {
        login_id: a.login_id.clone(),
        password,
        role: a.role.clone(),
        display_name: a.name.clone(),
        facility_id: a.facility.clone(),
        profession: a.profession.clone(),
    };
    let created = accounts::create_staff(&db, &muni, &staff, None, clock.now())
        .map_err(|e| e.for_operator())?;
    let account = &created.account;
    println!(
        "created {} account {} ({})",
        account.role, account.login_id, account.id
    );
    // The second factor is shown once, on the terminal of whoever runs this (RULES R2, R7).
    println!("second factor: scan this with an authenticator app (it is not shown again):");
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    print!("{}", super::totp::terminal_qr(&created.totp.uri, ansi)?);
    println!("  {}", created.totp.uri);
    println!("  secret: {}", created.totp.secret);
    println!(
        "  (for a test, the current code: {} totp --secret {})",
        super::invocation(),
        created.totp.secret
    );
    Ok(())
}
