//! The `rollcall` command line: run the gateway, migrate, check configuration,
//! and administer orgs, workspaces, users and API keys directly on the store
//! the server uses (not over HTTP). Commands only parse arguments and call the
//! same `service` functions the admin API calls.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use rollcall::configuration::{LogFormat, Settings, Sources};
use rollcall::domain::UserStatus;
use rollcall::domain::audit::Actor;
use rollcall::error::AppError;
use rollcall::service::authz::{Authority, OrgPolicy};
use rollcall::service::{self, Acting, Ctx};
use rollcall::startup::Application;
use rollcall::store::orgs::Org;
use rollcall::store::{DbConnection, Store};
use secrecy::ExposeSecret;

#[derive(Parser)]
#[command(
    name = "rollcall",
    version,
    about = "Identity provisioning gateway: SCIM 2.0, SSO, roles and workspace access"
)]
struct Cli {
    /// Folder holding default.toml and {ROLLCALL_ENV}.toml.
    #[arg(long, global = true, env = "ROLLCALL_CONFIG_DIR")]
    config_dir: Option<PathBuf>,
    /// Log format (overrides log.format).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (applies pending migrations first).
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Validate the configuration and print the effective settings, secrets redacted.
    CheckConfig,
    /// Print the admin API's OpenAPI document (JSON), as served at
    /// `/api/v1/openapi.json`.
    Openapi,
    /// Organizations.
    #[command(subcommand)]
    Org(OrgCmd),
    /// Workspaces of an organization.
    #[command(subcommand)]
    Workspace(WorkspaceCmd),
    /// Users of an organization.
    #[command(subcommand)]
    User(UserCmd),
    /// Roles of an organization.
    #[command(subcommand)]
    Role(RoleCmd),
    /// SCIM directories and their tokens.
    #[command(subcommand)]
    Directory(DirectoryCmd),
    /// Admin API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCmd),
    /// Invite a person (the mail goes out through the outbox: a running
    /// server delivers it).
    Invite(InviteArgs),
    /// Email domains an organization proves it owns (DNS TXT).
    #[command(subcommand)]
    Domain(DomainCmd),
    /// Identity providers (OIDC, SAML 2.0) people of an organization sign in with.
    #[command(subcommand)]
    Idp(IdpCmd),
}

#[derive(Subcommand)]
enum IdpCmd {
    /// Add an OpenID Connect IdP; the issuer is checked by discovery. Prints
    /// the redirect URI to register at the IdP.
    AddOidc(AddOidcArgs),
    /// Add a SAML 2.0 IdP from its metadata. Prints the SP entity id, ACS URL
    /// and metadata URL to enter at the IdP.
    AddSaml(AddSamlArgs),
    /// The organization's IdP connections and what to enter at each IdP.
    List {
        #[command(flatten)]
        org: OrgArg,
        /// Print JSON (an array of connections).
        #[arg(long)]
        json: bool,
    },
    /// Approve a connection someone without an owner role set up (the
    /// operator counts as an owner): it may then sign owners in.
    Approve {
        #[command(flatten)]
        org: OrgArg,
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a connection and its group mappings.
    Remove {
        #[command(flatten)]
        org: OrgArg,
        id: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum EmailTrustArg {
    Standard,
    Entra,
    Google,
}

#[derive(Args)]
struct AddOidcArgs {
    #[command(flatten)]
    org: OrgArg,
    #[arg(long)]
    name: String,
    /// Exactly as the IdP's discovery document states it.
    #[arg(long)]
    issuer: String,
    #[arg(long)]
    client_id: String,
    /// A file holding the client secret.
    #[arg(
        long,
        required_unless_present = "client_secret_env",
        conflicts_with = "client_secret_env"
    )]
    client_secret_file: Option<PathBuf>,
    /// An environment variable holding the client secret.
    #[arg(long)]
    client_secret_env: Option<String>,
    /// A scope besides `openid` (repeat; default `email profile`).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// A verified domain of the organization this IdP may vouch for (repeat).
    #[arg(long = "trusted-domain")]
    trusted_domains: Vec<String>,
    /// How the IdP vouches for email addresses.
    #[arg(long, value_enum)]
    email_trust: Option<EmailTrustArg>,
    /// Google's hosted domain (`hd`), with `--email-trust google`.
    #[arg(long)]
    hosted_domain: Option<String>,
    /// The claim holding the user's groups.
    #[arg(long)]
    groups_claim: Option<String>,
    /// Print the connection as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct AddSamlArgs {
    #[command(flatten)]
    org: OrgArg,
    #[arg(long)]
    name: String,
    /// The IdP's metadata XML.
    #[arg(
        long,
        required_unless_present = "metadata_url",
        conflicts_with = "metadata_url"
    )]
    metadata_file: Option<PathBuf>,
    /// Where the IdP publishes its metadata (fetched again periodically).
    #[arg(long)]
    metadata_url: Option<String>,
    /// A verified domain of the organization this IdP may vouch for (repeat).
    #[arg(long = "trusted-domain")]
    trusted_domains: Vec<String>,
    #[arg(long)]
    email_attribute: Option<String>,
    #[arg(long)]
    given_name_attribute: Option<String>,
    #[arg(long)]
    family_name_attribute: Option<String>,
    #[arg(long)]
    display_name_attribute: Option<String>,
    #[arg(long)]
    groups_attribute: Option<String>,
    /// An immutable attribute that identifies the person (default: a
    /// persistent NameID).
    #[arg(long)]
    subject_attribute: Option<String>,
    /// Accept IdP-initiated logins (off by default).
    #[arg(long)]
    allow_idp_initiated: bool,
    /// Print the connection as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum DomainCmd {
    /// Claim a domain and print the TXT record to publish.
    Claim {
        #[command(flatten)]
        org: OrgArg,
        domain: String,
    },
    /// Look the TXT record up and mark the domain verified.
    Verify {
        #[command(flatten)]
        org: OrgArg,
        domain: String,
    },
    List {
        #[command(flatten)]
        org: OrgArg,
    },
    Remove {
        #[command(flatten)]
        org: OrgArg,
        domain: String,
    },
}

#[derive(Args)]
struct InviteArgs {
    #[command(flatten)]
    org: OrgArg,
    /// The invitee's email address (one invite).
    #[arg(long, required_unless_present_any = ["csv", "json"], conflicts_with_all = ["csv", "json"])]
    email: Option<String>,
    /// Invite every row of a CSV file (columns email,name,role,workspaces;
    /// several workspaces separated by `;`).
    #[arg(long, conflicts_with = "json")]
    csv: Option<PathBuf>,
    /// Invite every row of a JSON file (an array of {email, name, role, workspaces}).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Bulk: all rows or none.
    #[arg(long)]
    atomic: bool,
    /// The invitee's name.
    #[arg(long)]
    name: Option<String>,
    /// Org-level role by key or display name (default: the org's default role).
    #[arg(long)]
    role: Option<String>,
    /// Restrict to this workspace (repeat for several).
    #[arg(long = "workspace")]
    workspaces: Vec<String>,
    /// Replace a pending invite that grants another role or workspaces.
    #[arg(long)]
    replace: bool,
}

#[derive(Subcommand)]
enum OrgCmd {
    /// Create an organization.
    Create {
        slug: String,
        #[arg(long)]
        name: Option<String>,
        /// Permission preset to start from.
        #[arg(long, default_value = "analytics")]
        preset: String,
    },
    /// List organizations.
    List,
}

#[derive(Args)]
struct OrgArg {
    /// Organization slug or id.
    #[arg(long)]
    org: String,
}

#[derive(Subcommand)]
enum WorkspaceCmd {
    Create {
        #[command(flatten)]
        org: OrgArg,
        slug: String,
        #[arg(long)]
        name: Option<String>,
        /// Create a sub-workspace of this workspace (slug or id).
        #[arg(long)]
        parent: Option<String>,
    },
    /// Move a workspace under another parent (or `--top-level`).
    Move {
        #[command(flatten)]
        org: OrgArg,
        workspace: String,
        #[arg(
            long,
            conflicts_with = "top_level",
            required_unless_present = "top_level"
        )]
        parent: Option<String>,
        #[arg(long)]
        top_level: bool,
    },
    List {
        #[command(flatten)]
        org: OrgArg,
    },
    /// Give a user access to a workspace, optionally with a workspace role.
    AddMember {
        #[command(flatten)]
        org: OrgArg,
        workspace: String,
        user: String,
        #[arg(long)]
        role: Option<String>,
    },
    /// Take a user's access to a workspace away.
    RemoveMember {
        #[command(flatten)]
        org: OrgArg,
        workspace: String,
        user: String,
    },
    /// Define (or replace) an item type and its fields (seed 004).
    ItemType {
        #[command(flatten)]
        org: OrgArg,
        key: String,
        #[arg(long)]
        name: Option<String>,
        /// A field key (repeat for several).
        #[arg(long = "field")]
        fields: Vec<String>,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user (source `admin`, active).
    Create {
        #[command(flatten)]
        org: OrgArg,
        #[arg(long)]
        email: Option<String>,
        /// Defaults to the email.
        #[arg(long)]
        user_name: Option<String>,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        family_name: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        /// Org-level role key (default: the org's default role).
        #[arg(long)]
        role: Option<String>,
        /// Restrict to this workspace (repeat for several).
        #[arg(long = "workspace")]
        workspaces: Vec<String>,
    },
    /// List users, optionally searching userName, email and display name.
    List {
        #[command(flatten)]
        org: OrgArg,
        #[arg(long)]
        search: Option<String>,
        #[arg(long, value_parser = parse_status)]
        status: Option<UserStatus>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Show one user, by id or userName, with their access.
    Show {
        #[command(flatten)]
        org: OrgArg,
        user: String,
    },
    /// Set a user's org-level role.
    SetRole {
        #[command(flatten)]
        org: OrgArg,
        user: String,
        role: String,
    },
    /// Set the workspaces a user may see (`--all` lifts the restriction).
    SetWorkspaces {
        #[command(flatten)]
        org: OrgArg,
        user: String,
        /// Workspace slugs.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        workspaces: Vec<String>,
        #[arg(long)]
        all: bool,
        /// Home workspace slug.
        #[arg(long)]
        home: Option<String>,
    },
}

#[derive(Subcommand)]
enum DirectoryCmd {
    /// Create a directory. Prints its SCIM base path, then its first token (shown once).
    Create {
        #[command(flatten)]
        org: OrgArg,
        #[arg(long)]
        name: String,
    },
    /// List the org's directories with their ceilings.
    List {
        #[command(flatten)]
        org: OrgArg,
    },
    /// Set what a directory may assign: org-level roles (never an owner
    /// role) and workspaces (or every workspace).
    Ceiling {
        #[command(flatten)]
        org: OrgArg,
        /// Directory id or name.
        #[arg(long)]
        directory: String,
        /// A role key or name the directory may assign (repeat for several).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// A workspace slug the directory may assign (repeat for several).
        #[arg(long = "workspace", conflicts_with = "all_workspaces")]
        workspaces: Vec<String>,
        /// The directory may assign every workspace.
        #[arg(long)]
        all_workspaces: bool,
    },
    /// Directory tokens.
    #[command(subcommand)]
    Token(TokenCmd),
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create another token (for rotation). Prints it alone, once.
    Create {
        #[command(flatten)]
        org: OrgArg,
        /// Directory id or name.
        #[arg(long)]
        directory: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List a directory's tokens.
    List {
        #[command(flatten)]
        org: OrgArg,
        #[arg(long)]
        directory: String,
    },
    /// Revoke a token by id.
    Revoke {
        #[command(flatten)]
        org: OrgArg,
        id: String,
    },
}

#[derive(Subcommand)]
enum RoleCmd {
    /// List the org's roles.
    List {
        #[command(flatten)]
        org: OrgArg,
    },
    /// Show a role with its grants.
    Show {
        #[command(flatten)]
        org: OrgArg,
        role: String,
    },
    /// Create a custom role (profile) by name; its key is derived from the
    /// name unless `--key` is given. Prints the key.
    Create {
        #[command(flatten)]
        org: OrgArg,
        /// Display name (required).
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// Machine key ([a-z0-9_]+) instead of the derived one.
        #[arg(long)]
        key: Option<String>,
        /// Start from this role's grants and settings.
        #[arg(long)]
        clone_from: Option<String>,
    },
    /// List the users holding a role (at any scope, directly or through a group).
    Users {
        #[command(flatten)]
        org: OrgArg,
        role: String,
        /// Case-insensitive substring of userName, email or display name.
        #[arg(long)]
        search: Option<String>,
    },
}

#[derive(Subcommand)]
enum ApiKeyCmd {
    /// Create a key. The token is printed once, alone on stdout.
    Create {
        /// The org the key acts in.
        #[arg(
            long,
            required_unless_present = "instance_admin",
            conflicts_with = "instance_admin"
        )]
        org: Option<String>,
        /// A key that can create orgs and act in every org.
        #[arg(long)]
        instance_admin: bool,
        #[arg(long, default_value = "cli")]
        name: String,
        /// Role the key acts with in its org (default: the owner role).
        #[arg(long, conflicts_with = "user")]
        role: Option<String>,
        /// A personal key: acts as this user (id or userName), with their access.
        #[arg(long)]
        user: Option<String>,
    },
    /// List keys of an org, or the instance-admin keys.
    List {
        #[arg(long)]
        org: Option<String>,
    },
    /// Revoke a key by id.
    Revoke { id: String },
}

fn parse_status(s: &str) -> Result<UserStatus, String> {
    s.parse()
        .map_err(|e: rollcall::domain::user::UnknownVariant| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&Sources::from_process(cli.config_dir.clone())) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rollcall: {e}");
            return ExitCode::from(2);
        }
    };
    let format = match cli.log_format {
        Some(LogFormatArg::Json) => LogFormat::Json,
        Some(LogFormatArg::Text) => LogFormat::Text,
        None => settings.log.format,
    };
    rollcall::telemetry::init(&settings.log.level, format);
    match run(cli.command, settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rollcall: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(settings),
        Command::CheckConfig => {
            print!("{}", settings.to_redacted_toml());
            Ok(())
        }
        Command::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&rollcall::routes::api::openapi())?
            );
            Ok(())
        }
        Command::Migrate => {
            let store = Store::open(&settings.database)?;
            let applied = store.migrate()?;
            if applied.is_empty() {
                println!("database is up to date");
            }
            for m in applied {
                println!("applied {m}");
            }
            Ok(())
        }
        Command::Org(cmd) => org(&open(&settings)?, cmd),
        Command::Workspace(cmd) => workspace(&open(&settings)?, cmd),
        Command::User(cmd) => user(&open(&settings)?, cmd),
        Command::Role(cmd) => role(&open(&settings)?, cmd),
        Command::Directory(cmd) => directory(&open(&settings)?, cmd),
        Command::ApiKey(cmd) => api_key(&open(&settings)?, cmd),
        Command::Domain(cmd) => domain(&open(&settings)?, &settings, cmd),
        Command::Invite(args) => invite(&open(&settings)?, &settings, args),
        Command::Idp(cmd) => {
            let store = open(&settings)?;
            idp(&store, settings, cmd)
        }
    }
}

/// The base URL the IdP reaches the gateway at, for the URLs it must enter.
fn public_base(settings: &Settings) -> String {
    settings
        .server
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}:{}", settings.server.host, settings.server.port))
}

fn print_connection(v: &service::idp_connections::ConnectionView) {
    println!("id\t{}", v.id);
    println!(
        "name\t{} ({}, {}, {})",
        v.name,
        v.kind,
        if v.enabled { "enabled" } else { "disabled" },
        if v.owner_approved {
            "owner approved"
        } else {
            "awaiting an owner's approval"
        }
    );
    if !v.trusted_domains.is_empty() {
        println!("trusted domains\t{}", v.trusted_domains.join(" "));
    }
    println!("enter at the IdP:");
    let s = &v.setup;
    for (label, value) in [
        ("redirect URI", &s.redirect_uri),
        ("SP entity id", &s.sp_entity_id),
        ("ACS URL", &s.acs_url),
        ("SP metadata URL", &s.metadata_url),
    ] {
        if let Some(value) = value {
            println!("  {label}\t{value}");
        }
    }
}

fn show_connection(v: &service::idp_connections::ConnectionView, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(v)?);
    } else {
        print_connection(v);
    }
    Ok(())
}

fn idp(store: &Store, mut settings: Settings, cmd: IdpCmd) -> anyhow::Result<()> {
    use service::idp_connections::{self as idp, AttributeNames, ClaimNames, EmailTrust};
    let base = public_base(&settings);
    let (org_key, input, json) = match cmd {
        IdpCmd::List { org, json } => {
            let list = read_as_operator(store, &org.org, |c, a| idp::list(c, a, &base))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for (i, v) in list.iter().enumerate() {
                    if i > 0 {
                        println!();
                    }
                    print_connection(v);
                }
            }
            return Ok(());
        }
        IdpCmd::Approve { org, id, json } => {
            let v = write_as_operator(store, &org.org, |c, a| idp::approve(c, a, &id, &base))?;
            return show_connection(&v, json);
        }
        IdpCmd::Remove { org, id } => {
            write_as_operator(store, &org.org, |c, a| idp::delete(c, a, &id))?;
            println!("removed {id}");
            return Ok(());
        }
        IdpCmd::AddOidc(a) => {
            let secret = match (&a.client_secret_file, &a.client_secret_env) {
                (Some(path), _) => std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
                (None, Some(var)) => std::env::var(var)
                    .map_err(|_| anyhow::anyhow!("environment variable {var} is not set"))?,
                (None, None) => anyhow::bail!("give --client-secret-file or --client-secret-env"),
            };
            let input = idp::NewConnection::Oidc(idp::NewOidc {
                name: a.name,
                issuer: a.issuer,
                client_id: a.client_id,
                client_secret: secrecy::SecretString::from(secret.trim().to_owned()),
                scopes: (!a.scopes.is_empty()).then_some(a.scopes),
                allowed_algs: Vec::new(),
                claims: a.groups_claim.map(|g| ClaimNames {
                    groups: Some(g),
                    ..ClaimNames::default()
                }),
                email_trust: a.email_trust.map(|t| match t {
                    EmailTrustArg::Standard => EmailTrust::Standard,
                    EmailTrustArg::Entra => EmailTrust::Entra,
                    EmailTrustArg::Google => EmailTrust::Google,
                }),
                hosted_domain: a.hosted_domain,
                fetch_userinfo: None,
                trusted_domains: a.trusted_domains,
                enabled: None,
            });
            (a.org.org, input, a.json)
        }
        IdpCmd::AddSaml(a) => {
            let metadata_xml = match &a.metadata_file {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
                ),
                None => None,
            };
            let input = idp::NewConnection::Saml(idp::NewSaml {
                name: a.name,
                metadata_xml,
                metadata_url: a.metadata_url,
                idp_entity_id: None,
                idp_sso_url: None,
                idp_slo_url: None,
                signing_certs: Vec::new(),
                sp_entity_id: None,
                subject_attribute: a.subject_attribute,
                attributes: Some(AttributeNames {
                    email: a.email_attribute,
                    given_name: a.given_name_attribute,
                    family_name: a.family_name_attribute,
                    display_name: a.display_name_attribute,
                    groups: a.groups_attribute,
                }),
                allow_idp_initiated: a.allow_idp_initiated,
                trusted_domains: a.trusted_domains,
                enabled: None,
            });
            (a.org.org, input, a.json)
        }
    };
    // The key that seals client secrets is the one the server uses.
    settings.sso.load_key_file()?;
    let ctx = ctx();
    let org = store.read_blocking(|c| service::orgs::resolve(c, &org_key))?;
    let op = store.read_blocking(|c| OrgPolicy::load(c, &org))?;
    let acting = operator(&ctx, &org, &op);
    let fetched = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(idp::prepare_create(&acting, &input, settings.sso.network))?;
    let view = store.write_blocking(|c| {
        idp::create(c, &acting, &settings.sso.secret_key, input, &fetched, &base)
    })?;
    show_connection(&view, json)
}

fn invite(store: &Store, settings: &Settings, args: InviteArgs) -> anyhow::Result<()> {
    let mail = rollcall::email::Composer::new(settings);
    let Some(email) = args.email.clone() else {
        return invite_bulk(store, &mail, args);
    };
    let (invite, outcome) = store.write_blocking(|c| {
        let org = service::orgs::resolve(c, &args.org.org)?;
        let op = OrgPolicy::load(c, &org)?;
        service::invites::invite(
            c,
            &operator(&ctx(), &org, &op),
            &mail,
            service::invites::NewInvite {
                email,
                name: args.name,
                role: args.role,
                workspaces: (!args.workspaces.is_empty()).then_some(args.workspaces),
                replace: args.replace,
            },
            false,
        )
    })?;
    println!(
        "{}\t{}\t{}\texpires {}",
        match outcome {
            service::invites::Outcome::Created => "invited",
            service::invites::Outcome::Resent => "resent",
            service::invites::Outcome::Replaced => "replaced",
        },
        invite.email,
        invite.id,
        invite.expires_at.format("%Y-%m-%d %H:%M UTC"),
    );
    Ok(())
}

/// `rollcall invite --csv FILE | --json FILE`: validate every row, apply in
/// chunks (each committed) with a progress bar, then a summary table and
/// the rows that were not invited.
fn invite_bulk(
    store: &Store,
    mail: &rollcall::email::Composer,
    args: InviteArgs,
) -> anyhow::Result<()> {
    use service::invites_bulk::{self as bulk, AtomicError, Report};
    let parsed = match (&args.csv, &args.json) {
        (Some(path), _) => bulk::parse_csv(&std::fs::read(path)?)?,
        (None, Some(path)) => bulk::parse_json(&std::fs::read(path)?)?,
        (None, None) => anyhow::bail!("give --email, --csv or --json"),
    };
    let ctx = ctx();
    let org = store.read_blocking(|c| service::orgs::resolve(c, &args.org.org))?;
    let op = store.read_blocking(|c| OrgPolicy::load(c, &org))?;
    let acting = operator(&ctx, &org, &op);
    bulk::authorize(&acting)?;
    let (valid, errors) = bulk::validate(&acting, parsed);
    let bar = indicatif::ProgressBar::new(valid.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} rows  {elapsed} ({eta} left)",
        )
        .expect("a valid template"),
    );
    let report = if args.atomic {
        if !errors.is_empty() {
            bar.finish_and_clear();
            let mut rows = errors;
            rows.extend(valid.iter().map(|(row, r)| bulk::RowResult {
                row: *row,
                email: r.email.clone(),
                result: "not_applied".into(),
                invite_id: None,
                user_id: None,
                code: None,
                reason: None,
            }));
            Report::new(true, false, rows)
        } else {
            let outcome = store
                .write_blocking(|c| bulk::apply_atomic(c, &acting, mail, &valid, args.replace));
            bar.finish_and_clear();
            match outcome {
                Ok(r) | Err(AtomicError::Rejected(r)) => r,
                Err(AtomicError::App(e)) => return Err(e.into()),
            }
        }
    } else {
        let mut rows = errors;
        for chunk in valid.chunks(rollcall::jobs::CHUNK) {
            let applied =
                store.write_blocking(|c| bulk::apply(c, &acting, mail, chunk, args.replace))?;
            rows.extend(applied);
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        Report::new(false, true, rows)
    };
    println!("{:<16} {:>7}", "result", "rows");
    for (result, n) in &report.summary {
        println!("{result:<16} {n:>7}");
    }
    println!("{:<16} {:>7}", "total", report.total);
    if !report.applied {
        println!("nothing was stored (--atomic)");
    }
    for r in report.rows.iter().filter(|r| r.failed()) {
        println!(
            "row {}\t{}\t{}\t{}",
            r.row,
            r.email,
            r.code.as_deref().unwrap_or("-"),
            r.reason.as_deref().unwrap_or("-")
        );
    }
    if report.rows.iter().any(|r| r.failed()) {
        anyhow::bail!("some rows were not invited");
    }
    Ok(())
}

fn print_domain(d: &service::domains::DomainView) {
    println!(
        "{}\t{}\tTXT {} \"{}\"",
        d.domain,
        if d.verified { "verified" } else { "pending" },
        d.record_name,
        d.record_value
    );
}

fn domain(store: &Store, settings: &Settings, cmd: DomainCmd) -> anyhow::Result<()> {
    let with = |org: &OrgArg| org.org.clone();
    match cmd {
        DomainCmd::Claim { org, domain } => {
            let org = with(&org);
            let view =
                write_as_operator(store, &org, |c, a| service::domains::claim(c, a, &domain))?;
            println!("publish this record, then run `rollcall domain verify`:");
            print_domain(&view);
        }
        DomainCmd::Verify { org, domain } => {
            let org = with(&org);
            let claimed = read_as_operator(store, &org, |c, a| {
                service::domains::challenge(c, a, &domain)
            })?;
            let resolver = rollcall::dns::TxtResolver::new(settings.sso.domain_txt_fixture.clone());
            let name = service::domains::record_name(&claimed.domain);
            let published = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(resolver.txt(&name))?;
            let view = write_as_operator(store, &org, |c, a| {
                service::domains::verify(c, a, &domain, &published)
            })?;
            print_domain(&view);
        }
        DomainCmd::List { org } => {
            let org = with(&org);
            let list = read_as_operator(store, &org, service::domains::list)?;
            for d in &list {
                print_domain(d);
            }
        }
        DomainCmd::Remove { org, domain } => {
            let org = with(&org);
            write_as_operator(store, &org, |c, a| service::domains::remove(c, a, &domain))?;
            println!("removed {domain}");
        }
    }
    Ok(())
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let workers = settings.server.workers;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if workers > 0 {
        rt.worker_threads(workers);
    }
    rt.enable_all().build()?.block_on(async move {
        let app = Application::build(settings).await?;
        app.run_until_stopped().await?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// The store, migrated, for administrative commands.
fn open(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::open(&settings.database)?;
    store.migrate()?;
    Ok(store)
}

/// Run `f` in one write transaction, acting as the host's operator in `org`.
fn write_as_operator<T>(
    store: &Store,
    org: &str,
    f: impl FnOnce(&mut DbConnection, &Acting<'_>) -> Result<T, AppError>,
) -> anyhow::Result<T> {
    Ok(store.write_blocking(|c| {
        let org = service::orgs::resolve(c, org)?;
        let op = OrgPolicy::load(c, &org)?;
        f(c, &operator(&ctx(), &org, &op))
    })?)
}

/// Run `f` on a read connection, acting as the host's operator in `org`.
fn read_as_operator<T>(
    store: &Store,
    org: &str,
    f: impl FnOnce(&mut DbConnection, &Acting<'_>) -> Result<T, AppError>,
) -> anyhow::Result<T> {
    Ok(store.read_blocking(|c| {
        let org = service::orgs::resolve(c, org)?;
        let op = OrgPolicy::load(c, &org)?;
        f(c, &operator(&ctx(), &org, &op))
    })?)
}

fn ctx() -> Ctx {
    Ctx::new(Actor::cli_as(&os_user()), None)
}

/// The operating-system user running this command, for audit events: the
/// name of the process's real uid (from the password database), else
/// `$USER` / `$LOGNAME`, else `uid:N`. The uid is read from the process
/// itself first, so `sudo -u` or an unset `$USER` (cron, containers,
/// systemd units) still names the right account.
fn os_user() -> String {
    let uid = process_uid();
    if let Some(uid) = uid
        && let Some(name) = passwd_name(uid)
    {
        return name;
    }
    for var in ["USER", "LOGNAME"] {
        if let Ok(name) = std::env::var(var)
            && !name.trim().is_empty()
        {
            return name;
        }
    }
    match uid {
        Some(uid) => format!("uid:{uid}"),
        None => "unknown".to_owned(),
    }
}

#[cfg(unix)]
fn process_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self is owned by the process's effective uid on Linux.
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

#[cfg(not(unix))]
fn process_uid() -> Option<u32> {
    None
}

/// The login name of `uid` in /etc/passwd (`name:x:uid:gid:…`).
fn passwd_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?;
        (id.parse::<u32>().ok()? == uid && !name.is_empty()).then(|| name.to_owned())
    })
}

/// The CLI acts as the operator of the host: unrestricted.
fn operator<'a>(ctx: &'a Ctx, org: &'a Org, op: &'a OrgPolicy) -> Acting<'a> {
    Acting {
        ctx,
        org,
        op,
        authority: &Authority::Operator,
    }
}

fn org(store: &Store, cmd: OrgCmd) -> anyhow::Result<()> {
    match cmd {
        OrgCmd::Create { slug, name, preset } => {
            let org = store.write_blocking(|c| {
                service::orgs::create(
                    c,
                    &ctx(),
                    service::orgs::NewOrg {
                        slug,
                        name,
                        preset: Some(preset),
                    },
                )
            })?;
            println!("created org {} ({}) id={}", org.slug, org.name, org.id);
        }
        OrgCmd::List => {
            for o in store.read_blocking(service::orgs::list)? {
                println!(
                    "{}\t{}\t{}\tpreset={}",
                    o.slug, o.id, o.name, o.settings.preset
                );
            }
        }
    }
    Ok(())
}

fn workspace(store: &Store, cmd: WorkspaceCmd) -> anyhow::Result<()> {
    match cmd {
        WorkspaceCmd::Create {
            org,
            slug,
            name,
            parent,
        } => {
            let ws = write_as_operator(store, &org.org, |c, a| {
                service::workspaces::create(
                    c,
                    a,
                    service::workspaces::NewWorkspace {
                        slug: slug.clone(),
                        name: name.clone(),
                        parent: parent.clone(),
                    },
                )
            })?;
            println!("created workspace {} ({}) id={}", ws.slug, ws.name, ws.id);
        }
        WorkspaceCmd::Move {
            org,
            workspace,
            parent,
            top_level: _,
        } => {
            let ws = write_as_operator(store, &org.org, |c, a| {
                service::workspaces::update(
                    c,
                    a,
                    &workspace,
                    service::workspaces::WorkspaceChange {
                        name: None,
                        parent: Some(parent.clone()),
                    },
                )
            })?;
            println!(
                "workspace {} now {}",
                ws.slug,
                ws.parent_id
                    .map_or_else(|| "top-level".to_owned(), |p| format!("under {p}"))
            );
        }
        WorkspaceCmd::List { org } => {
            let list = store.read_blocking(|c| {
                let org = service::orgs::resolve(c, &org.org)?;
                service::workspaces::list(c, &org)
            })?;
            for w in list {
                println!(
                    "{}\t{}\t{}\t{}",
                    w.slug,
                    w.id,
                    w.name,
                    w.parent_id.as_ref().map_or("-", |p| p.as_str())
                );
            }
        }
        WorkspaceCmd::AddMember {
            org,
            workspace,
            user,
            role,
        } => {
            let view = write_as_operator(store, &org.org, |c, a| {
                service::access::add_to_workspace(c, a, &workspace, &user, role.as_deref())
            })?;
            println!("{}", serde_json::to_string_pretty(&view)?);
        }
        WorkspaceCmd::RemoveMember {
            org,
            workspace,
            user,
        } => {
            let view = write_as_operator(store, &org.org, |c, a| {
                service::access::remove_from_workspace(c, a, &workspace, &user)
            })?;
            println!("{}", serde_json::to_string_pretty(&view)?);
        }
        WorkspaceCmd::ItemType {
            org,
            key,
            name,
            fields,
        } => {
            let written = write_as_operator(store, &org.org, |c, a| {
                service::item_types::put(
                    c,
                    a,
                    &key,
                    service::item_types::ItemTypeInput {
                        name: name.clone(),
                        fields: fields.iter().map(|f| (f.clone(), None)).collect(),
                    },
                )
            })?;
            println!(
                "{} item type {} with fields {}",
                if written.created {
                    "created"
                } else {
                    "replaced"
                },
                written.item_type.key,
                written
                    .item_type
                    .fields
                    .iter()
                    .map(|f| f.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(())
}

fn print_user(u: &rollcall::store::users::User) {
    println!(
        "{}\t{}\t{}\t{}\t{}",
        u.id,
        u.user_name,
        u.email.as_deref().unwrap_or("-"),
        u.status,
        u.source
    );
}

fn user(store: &Store, cmd: UserCmd) -> anyhow::Result<()> {
    match cmd {
        UserCmd::Create {
            org,
            email,
            user_name,
            given_name,
            family_name,
            display_name,
            role,
            workspaces,
        } => {
            let u = write_as_operator(store, &org.org, |c, a| {
                service::users::create(
                    c,
                    a,
                    service::users::NewUser {
                        user_name,
                        email,
                        given_name,
                        family_name,
                        display_name,
                        external_id: None,
                        role,
                        workspaces: (!workspaces.is_empty()).then_some(workspaces),
                    },
                )
            })?;
            print_user(&u);
        }
        UserCmd::List {
            org,
            search,
            status,
            limit,
        } => {
            let page = read_as_operator(store, &org.org, |c, a| {
                service::users::list(
                    c,
                    a,
                    search,
                    status,
                    None,
                    i64::from(limit.clamp(1, 10_000)),
                )
            })?;
            for u in &page.items {
                print_user(u);
            }
            if page.next_cursor.is_some() {
                eprintln!("(more users; raise --limit)");
            }
        }
        UserCmd::Show { org, user } => {
            let (u, access) = store.read_blocking(|c| -> Result<_, AppError> {
                let org = service::orgs::resolve(c, &org.org)?;
                let op = OrgPolicy::load(c, &org)?;
                let u = service::users::find_by_id_or_name(c, &org, &user)?;
                let access = service::access::access_view(
                    c,
                    &operator(&ctx(), &org, &op),
                    u.id.as_str(),
                    None,
                    None,
                )?;
                Ok((u, access))
            })?;
            let mut shown = service::users::view(&u);
            shown["bindings"] = serde_json::json!(access.bindings);
            shown["workspaces"] = serde_json::json!(access.workspaces);
            shown["anonymized"] = serde_json::json!(access.anonymized);
            shown["allowed"] = serde_json::json!(
                access
                    .permissions
                    .iter()
                    .filter(|p| p.allowed)
                    .map(|p| &p.permission)
                    .collect::<Vec<_>>()
            );
            println!("{}", serde_json::to_string_pretty(&shown)?);
        }
        UserCmd::SetRole { org, user, role } => {
            store.write_blocking(|c| -> Result<_, AppError> {
                let org = service::orgs::resolve(c, &org.org)?;
                let op = OrgPolicy::load(c, &org)?;
                let u = service::users::find_by_id_or_name(c, &org, &user)?;
                service::access::set_org_role(c, &operator(&ctx(), &org, &op), u.id.as_str(), &role)
            })?;
            println!("{user}: role {role}");
        }
        UserCmd::SetWorkspaces {
            org,
            user,
            workspaces,
            all,
            home,
        } => {
            let list = (!all).then(|| workspaces.clone());
            store.write_blocking(|c| -> Result<_, AppError> {
                let org = service::orgs::resolve(c, &org.org)?;
                let op = OrgPolicy::load(c, &org)?;
                let u = service::users::find_by_id_or_name(c, &org, &user)?;
                service::access::set_workspaces(
                    c,
                    &operator(&ctx(), &org, &op),
                    u.id.as_str(),
                    list,
                    home,
                )
            })?;
            println!(
                "{user}: workspaces {}",
                if all {
                    "all".to_owned()
                } else {
                    workspaces.join(", ")
                }
            );
        }
    }
    Ok(())
}

fn directory(store: &Store, cmd: DirectoryCmd) -> anyhow::Result<()> {
    match cmd {
        DirectoryCmd::Create { org, name } => {
            let (d, _, token) = store.write_blocking(|c| -> Result<_, AppError> {
                let org = service::orgs::resolve(c, &org.org)?;
                let op = OrgPolicy::load(c, &org)?;
                service::directories::create(c, &operator(&ctx(), &org, &op), &name, None)
            })?;
            eprintln!(
                "created SCIM directory {} ({}); its base path and first token (shown once):",
                d.name, d.id
            );
            println!("{}", service::directories::base_path(&d));
            println!("{}", token.expose_secret());
        }
        DirectoryCmd::Ceiling {
            org,
            directory,
            roles,
            workspaces,
            all_workspaces,
        } => {
            let shown = store.write_blocking(|c| -> Result<_, AppError> {
                let org = service::orgs::resolve(c, &org.org)?;
                let op = OrgPolicy::load(c, &org)?;
                let input = service::directories::CeilingInput {
                    roles,
                    workspaces: (!all_workspaces).then_some(workspaces),
                };
                let d = service::directories::set_ceiling(
                    c,
                    &operator(&ctx(), &org, &op),
                    &directory,
                    &input,
                )?;
                Ok(service::directories::view_with_ceiling(&op, &d))
            })?;
            println!("{}", serde_json::to_string_pretty(&shown)?);
        }
        DirectoryCmd::List { org } => {
            let list = store.read_blocking(|c| -> Result<_, AppError> {
                let org = service::orgs::resolve(c, &org.org)?;
                Ok(rollcall::store::directories::list(c, &org.id)?)
            })?;
            for d in list {
                println!(
                    "{}\t{}\t{}",
                    d.id,
                    d.name,
                    service::directories::base_path(&d)
                );
            }
        }
        DirectoryCmd::Token(TokenCmd::Create {
            org,
            directory,
            name,
        }) => {
            let (_, token) = store.write_blocking(|c| -> Result<_, AppError> {
                let org = service::orgs::resolve(c, &org.org)?;
                let op = OrgPolicy::load(c, &org)?;
                let d = service::directories::resolve(c, &org, &directory)?;
                service::directories::create_token(c, &operator(&ctx(), &org, &op), &d, &name)
            })?;
            println!("{}", token.expose_secret());
        }
        DirectoryCmd::Token(TokenCmd::List { org, directory }) => {
            let list = store.read_blocking(|c| -> Result<_, AppError> {
                let org = service::orgs::resolve(c, &org.org)?;
                let d = service::directories::resolve(c, &org, &directory)?;
                Ok(rollcall::store::scim::tokens(c, &d.id)?)
            })?;
            for t in list {
                println!(
                    "{}\t{}\t{}",
                    t.id,
                    t.name,
                    if t.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    }
                );
            }
        }
        DirectoryCmd::Token(TokenCmd::Revoke { org, id }) => {
            store.write_blocking(|c| -> Result<_, AppError> {
                let org = service::orgs::resolve(c, &org.org)?;
                let op = OrgPolicy::load(c, &org)?;
                service::directories::revoke_token(c, &operator(&ctx(), &org, &op), &id)
            })?;
            println!("revoked {id}");
        }
    }
    Ok(())
}

fn role(store: &Store, cmd: RoleCmd) -> anyhow::Result<()> {
    match cmd {
        RoleCmd::List { org } => {
            let op = store.read_blocking(|c| -> Result<_, AppError> {
                let org = service::orgs::resolve(c, &org.org)?;
                OrgPolicy::load(c, &org)
            })?;
            for r in op.policy.roles() {
                println!(
                    "{}\t{}\tbinds_at={}\tvisibility={:?}{}{}{}",
                    r.key,
                    r.name,
                    r.binds_at,
                    r.visibility,
                    if r.builtin { "\tbuilt-in" } else { "\tcustom" },
                    if r.owner { "\towner" } else { "" },
                    if r.anonymized { "\tanonymized" } else { "" },
                );
            }
        }
        RoleCmd::Show { org, role } => {
            let view = store.read_blocking(|c| -> Result<_, AppError> {
                let org = service::orgs::resolve(c, &org.org)?;
                let op = OrgPolicy::load(c, &org)?;
                let r = op.role(&role)?;
                Ok(service::roles::role_view(r, &op.policy))
            })?;
            println!("{}", serde_json::to_string_pretty(&view)?);
        }
        RoleCmd::Create {
            org,
            name,
            description,
            key,
            clone_from,
        } => {
            let view = store.write_blocking(|c| -> Result<_, AppError> {
                let org = service::orgs::resolve(c, &org.org)?;
                let op = OrgPolicy::load(c, &org)?;
                service::roles::create_role(
                    c,
                    &operator(&ctx(), &org, &op),
                    service::roles::RoleInput {
                        key,
                        name: Some(name),
                        description,
                        clone_from,
                        ..Default::default()
                    },
                )
            })?;
            println!("{}", view["key"].as_str().unwrap_or_default());
        }
        RoleCmd::Users { org, role, search } => {
            let ctx = ctx();
            let mut cursor = None;
            loop {
                let (page, lines) = store.read_blocking(|c| -> Result<_, AppError> {
                    let org = service::orgs::resolve(c, &org.org)?;
                    let op = OrgPolicy::load(c, &org)?;
                    let page = service::lists::role_holders(
                        c,
                        &operator(&ctx, &org, &op),
                        &role,
                        service::lists::HolderPaging {
                            search: search.clone(),
                            status: None,
                            cursor: cursor.clone(),
                            limit: 200,
                        },
                    )?;
                    let lines: Vec<String> = page
                        .items
                        .iter()
                        .map(|h| {
                            let scopes: Vec<String> =
                                h.bindings.iter().map(|b| b.scope.to_string()).collect();
                            format!(
                                "{}\t{}\t{}\t{}",
                                h.user.id,
                                h.user.user_name,
                                h.user.status,
                                scopes.join(", ")
                            )
                        })
                        .collect();
                    Ok((page.next_cursor, lines))
                })?;
                for line in lines {
                    println!("{line}");
                }
                match page {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
    }
    Ok(())
}

fn api_key(store: &Store, cmd: ApiKeyCmd) -> anyhow::Result<()> {
    match cmd {
        ApiKeyCmd::Create {
            org,
            instance_admin,
            name,
            role,
            user,
        } => {
            let (key, token) = store.write_blocking(|c| -> Result<_, AppError> {
                let org = org
                    .as_deref()
                    .map(|o| service::orgs::resolve(c, o))
                    .transpose()?;
                let user = match (&org, user.as_deref()) {
                    (Some(o), Some(u)) => Some(service::users::find_by_id_or_name(c, o, u)?),
                    (None, Some(_)) => return Err(AppError::bad_request("--user needs --org")),
                    _ => None,
                };
                service::api_keys::create(
                    c,
                    &ctx(),
                    service::api_keys::NewKey {
                        org: org.as_ref(),
                        name,
                        role_key: role,
                        instance_admin,
                        user: user.as_ref(),
                    },
                )
            })?;
            eprintln!(
                "created API key {} ({}); the token below is shown once:",
                key.id,
                if key.instance_admin {
                    "instance admin".to_owned()
                } else {
                    format!("role {}", key.role_key.as_deref().unwrap_or("-"))
                }
            );
            println!("{}", token.expose_secret());
        }
        ApiKeyCmd::List { org } => {
            let keys = store.read_blocking(|c| -> Result<_, AppError> {
                let org = org
                    .as_deref()
                    .map(|o| service::orgs::resolve(c, o))
                    .transpose()?;
                service::api_keys::list(c, org.as_ref())
            })?;
            for k in keys {
                println!(
                    "{}\t{}\trole={}\t{}",
                    k.id,
                    k.name,
                    k.role_key.as_deref().unwrap_or("-"),
                    if k.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    }
                );
            }
        }
        ApiKeyCmd::Revoke { id } => {
            let key = store.write_blocking(|c| {
                let key = service::api_keys::get(c, &id)?;
                service::api_keys::revoke(c, &ctx(), &key)
            })?;
            println!("revoked {}", key.id);
        }
    }
    Ok(())
}
