//! The `desist` command line.

use clap::{Args, Parser, Subcommand};
use desist_domain::DomainServices;
use desist_store::Store;

use crate::auth::AuthConfig;
use crate::http::ServeConfig;
use crate::import::import;

use crate::config::{database_url, LocalSecrets, DEFAULT_DATA_DIR, DEFAULT_MAX_CONNECTIONS};
use crate::Error;

#[derive(Debug, Parser)]
#[command(
    name = "desist",
    version,
    about = "Desist: the system of record for stalking perpetrator intervention programmes"
)]
pub struct Cli {
    /// The database: postgres://… for production. Without it, Desist keeps everything in one
    /// SQLite file in the data directory.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Where the embedded database (and a trial's local secrets) live [default: desist-data].
    #[arg(long, env = "DESIST_DATA_DIR", global = true)]
    pub data_dir: Option<std::path::PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the GraphQL API (and keep the views up to date).
    Serve(ServeArgs),
    /// Print the GraphQL schema (SDL), as docs/schema.graphql holds it.
    Schema,
    /// Mint a local bearer token (HS256, signed with DESIST_JWT_SECRET).
    Token(TokenArgs),
    /// List the read audit, newest first.
    Audit(AuditArgs),
    /// Write a backup of the events, audit, keys and identities (views are rebuilt on restore).
    Backup {
        /// Where to write it (JSON lines). Holds wrapped keys: store it like the database.
        file: std::path::PathBuf,
    },
    /// Restore a backup into an empty database (created if missing), then rebuild the views.
    Restore { file: std::path::PathBuf },
    /// Seed a realistic synthetic programme (about 200 people in three areas) through the
    /// ordinary commands, then print how to sign in as each role. Deterministic with --seed.
    Demo {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 200)]
        subjects: usize,
        #[command(flatten)]
        keys: KeyArgs,
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Measure Desist against what the machine allows, on each backend, and print the table
    /// (docs/benchmarks.md). Takes several minutes; build with --release.
    Bench(BenchArgs),
    /// Re-wrap every subject's key under a new master key (rotation).
    RotateMasterKey {
        /// The current master key.
        #[command(flatten)]
        keys: KeyArgs,
        /// The new master key (base64, 32 bytes).
        #[arg(long, env = "DESIST_NEW_MASTER_KEY", hide_env_values = true)]
        new_master_key: String,
        /// The new key's name.
        #[arg(long, env = "DESIST_NEW_MASTER_KEY_ID")]
        new_master_key_id: String,
    },
    /// Create the database if needed and bring its schema up to date. Safe to run again.
    Migrate,
    /// Import a desist-timeline/1 document through the ordinary commands. An invalid document
    /// is rejected whole, every problem listed; importing the same file again adds nothing.
    Import {
        /// The timeline file (JSON).
        file: std::path::PathBuf,
        /// The agency recorded as the source of the imported facts.
        #[arg(long, default_value = "timeline-import")]
        agency: String,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Look after the read-side views.
    Projections {
        #[command(subcommand)]
        action: ProjectionsCommand,
    },
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Which backends to measure.
    #[arg(long, value_delimiter = ',', default_value = "postgres,sqlite")]
    pub backends: Vec<BenchBackend>,
    /// A PostgreSQL server where a scratch database may be created (and is dropped after).
    #[arg(
        long,
        env = "DESIST_BENCH_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres",
        hide_env_values = true
    )]
    pub postgres: String,
    /// People in the national-scale data (one course each).
    #[arg(long, default_value_t = 20_000)]
    pub subjects: usize,
    /// People in the pilot-scale data.
    #[arg(long, default_value_t = 200)]
    pub pilot_subjects: usize,
    /// How long each timed measurement runs.
    #[arg(long, default_value = "3s")]
    pub window: humantime::Duration,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Keep the scratch databases afterwards (their URLs are printed).
    #[arg(long)]
    pub keep: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BenchBackend {
    Postgres,
    Sqlite,
}

#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Bring every view up to date with the events committed so far.
    CatchUp,
    /// Rebuild a view (or all) from the first event beside the live one, then switch to it.
    Rebuild {
        /// progress, compliance or outcomes; all when omitted.
        name: Option<String>,
    },
    /// Show each view's checkpoint, events applied, lag and any failure.
    Status,
}

/// `desist serve` settings. Each can come from a flag, the environment or the config file,
/// in that order of precedence.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "DESIST_ADDR")]
    pub addr: Option<std::net::SocketAddr>,
    /// A TOML file with any of these settings (snake_case keys, plus database_url).
    #[arg(long, env = "DESIST_CONFIG")]
    pub config: Option<std::path::PathBuf>,
    /// Development mode: GraphiQL at GET /graphql, introspection and field suggestions.
    #[arg(long, env = "DESIST_DEV")]
    pub dev: bool,
    /// Largest request body accepted [default: 1048576].
    #[arg(long, env = "DESIST_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Deepest query accepted [default: 12].
    #[arg(long, env = "DESIST_MAX_DEPTH")]
    pub max_depth: Option<usize>,
    /// Most complex query accepted (one point per field) [default: 2000].
    #[arg(long, env = "DESIST_MAX_COMPLEXITY")]
    pub max_complexity: Option<usize>,
    /// Most aliases in one query [default: 30].
    #[arg(long, env = "DESIST_MAX_ALIASES")]
    pub max_aliases: Option<usize>,
    /// Seconds a request may run [default: 10].
    #[arg(long, env = "DESIST_REQUEST_TIMEOUT_SECS")]
    pub request_timeout_secs: Option<u64>,
    /// /readyz fails when a view is more events behind than this [default: 1000].
    #[arg(long, env = "DESIST_READY_MAX_LAG")]
    pub ready_max_lag: Option<i64>,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// The master key that wraps every subject's data key.
#[derive(Debug, Args, Default, Clone)]
pub struct KeyArgs {
    /// 32 random bytes, base64 (`openssl rand -base64 32`). Keep it outside the database.
    #[arg(long, env = "DESIST_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// A name for the master key, recorded with each wrapped key (for rotation) [default: master-1].
    #[arg(long, env = "DESIST_MASTER_KEY_ID")]
    pub master_key_id: Option<String>,
}

/// Whether Desist runs on its embedded default, whose trial secrets it may make itself.
pub struct Local {
    embedded: bool,
    data_dir: std::path::PathBuf,
}

impl Local {
    fn secrets(&self) -> Result<Option<LocalSecrets>, Error> {
        if !self.embedded {
            return Ok(None);
        }
        LocalSecrets::load_or_create(&self.data_dir).map(Some)
    }
}

impl KeyArgs {
    /// On the embedded default, a master key from the data directory when none is given.
    pub fn or_local(mut self, local: &Local) -> Result<Self, Error> {
        if self.master_key.is_none() {
            if let Some(secrets) = local.secrets()? {
                self.master_key = Some(secrets.master_key);
            }
        }
        Ok(self)
    }

    pub fn master_key(&self) -> Result<desist_store::sealing::MasterKey, Error> {
        let text = self.master_key.as_deref().ok_or_else(|| {
            Error::Config(
                "DESIST_MASTER_KEY is not set: free text about people is only stored encrypted \
                 (generate one with `openssl rand -base64 32`)"
                    .into(),
            )
        })?;
        desist_store::sealing::MasterKey::from_base64(
            self.master_key_id.as_deref().unwrap_or("master-1"),
            text,
        )
        .map_err(Error::Config)
    }
}

/// How bearer tokens are verified: a local HS256 secret, or an OIDC provider's JWKS.
#[derive(Debug, Args, Default)]
pub struct AuthArgs {
    /// HS256 secret for local tokens, at least 32 bytes.
    #[arg(long, env = "DESIST_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Issuer of local tokens [default: desist].
    #[arg(long, env = "DESIST_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Audience of local tokens [default: desist].
    #[arg(long, env = "DESIST_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// An OIDC provider's JWKS URL; when set, tokens are verified with its keys.
    #[arg(long, env = "DESIST_OIDC_JWKS_URL")]
    pub oidc_jwks_url: Option<String>,
    /// The OIDC issuer (required with the JWKS URL).
    #[arg(long, env = "DESIST_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// The OIDC audience (required with the JWKS URL).
    #[arg(long, env = "DESIST_OIDC_AUDIENCE")]
    pub oidc_audience: Option<String>,
    /// The provider's signing algorithm [default: RS256].
    #[arg(long, env = "DESIST_OIDC_ALGORITHM")]
    pub oidc_algorithm: Option<String>,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The user the token speaks for.
    #[arg(long)]
    pub user: String,
    /// therapist, probation_officer, police_spo_officer, evaluator or admin.
    #[arg(long)]
    pub role: desist_domain::Role,
    #[arg(long, default_value = "local")]
    pub agency: String,
    /// How long it is valid (8h, 30m, 7d).
    #[arg(long, default_value = "8h")]
    pub ttl: humantime::Duration,
    /// Why the bearer will act, recorded in the read audit.
    #[arg(long)]
    pub purpose: Option<String>,
    #[command(flatten)]
    pub auth: AuthArgs,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only reads of this subject.
    #[arg(long)]
    pub subject: Option<String>,
    /// Only reads by this user.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only reads on or after this date-time (RFC 3339).
    #[arg(long)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
}

/// The config file's shape: the same settings as the flags.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeFile {
    addr: Option<std::net::SocketAddr>,
    database_url: Option<String>,
    dev: Option<bool>,
    max_body_bytes: Option<usize>,
    max_depth: Option<usize>,
    max_complexity: Option<usize>,
    max_aliases: Option<usize>,
    request_timeout_secs: Option<u64>,
    ready_max_lag: Option<i64>,
    jwt_secret: Option<String>,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
    oidc_jwks_url: Option<String>,
    oidc_issuer: Option<String>,
    oidc_audience: Option<String>,
    oidc_algorithm: Option<String>,
    master_key: Option<String>,
    master_key_id: Option<String>,
}

impl AuthArgs {
    /// On the embedded default, a local token secret from the data directory when neither a
    /// secret nor an OIDC provider is given.
    pub fn or_local(mut self, local: &Local) -> Result<Self, Error> {
        if self.jwt_secret.is_none() && self.oidc_jwks_url.is_none() {
            if let Some(secrets) = local.secrets()? {
                self.jwt_secret = Some(secrets.jwt_secret);
            }
        }
        Ok(self)
    }

    /// Fills what the flags left unset from the config file.
    fn or_file(self, file: &ServeFile) -> Self {
        Self {
            jwt_secret: self.jwt_secret.or(file.jwt_secret.clone()),
            jwt_issuer: self.jwt_issuer.or(file.jwt_issuer.clone()),
            jwt_audience: self.jwt_audience.or(file.jwt_audience.clone()),
            oidc_jwks_url: self.oidc_jwks_url.or(file.oidc_jwks_url.clone()),
            oidc_issuer: self.oidc_issuer.or(file.oidc_issuer.clone()),
            oidc_audience: self.oidc_audience.or(file.oidc_audience.clone()),
            oidc_algorithm: self.oidc_algorithm.or(file.oidc_algorithm.clone()),
        }
    }

    pub fn config(self) -> Result<AuthConfig, Error> {
        if let Some(jwks_url) = self.oidc_jwks_url {
            let required = |v: Option<String>, name: &str| {
                v.ok_or_else(|| Error::Config(format!("{name} is required with oidc_jwks_url")))
            };
            let algorithm = self.oidc_algorithm.unwrap_or_else(|| "RS256".into());
            return Ok(AuthConfig::Oidc {
                jwks_url,
                issuer: required(self.oidc_issuer, "oidc_issuer")?,
                audience: required(self.oidc_audience, "oidc_audience")?,
                algorithm: algorithm
                    .parse()
                    .map_err(|_| Error::Config(format!("oidc_algorithm: unknown {algorithm:?}")))?,
            });
        }
        let secret = self.jwt_secret.ok_or_else(|| {
            Error::Config(
                "no way to verify tokens: set DESIST_JWT_SECRET (local tokens, at least 32 \
                 bytes) or DESIST_OIDC_JWKS_URL"
                    .into(),
            )
        })?;
        Ok(AuthConfig::Local {
            secret,
            issuer: self.jwt_issuer.unwrap_or_else(|| "desist".into()),
            audience: self.jwt_audience.unwrap_or_else(|| "desist".into()),
        })
    }
}

fn serve_config(
    args: ServeArgs,
    database_url_flag: Option<String>,
    data_dir: std::path::PathBuf,
) -> Result<ServeConfig, Error> {
    let file: ServeFile = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
            toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?
        }
        None => ServeFile::default(),
    };
    let url_flag = database_url_flag.or(file.database_url.clone());
    let local = Local {
        embedded: url_flag.is_none(),
        data_dir: data_dir.clone(),
    };
    Ok(ServeConfig {
        addr: args
            .addr
            .or(file.addr)
            .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 8080))),
        database_url: database_url(url_flag, &data_dir)?,
        dev: args.dev || file.dev.unwrap_or(false),
        max_body_bytes: args
            .max_body_bytes
            .or(file.max_body_bytes)
            .unwrap_or(1 << 20),
        max_depth: args.max_depth.or(file.max_depth).unwrap_or(12),
        max_complexity: args.max_complexity.or(file.max_complexity).unwrap_or(2000),
        max_aliases: args.max_aliases.or(file.max_aliases).unwrap_or(30),
        request_timeout: std::time::Duration::from_secs(
            args.request_timeout_secs
                .or(file.request_timeout_secs)
                .unwrap_or(10),
        ),
        ready_max_lag: args.ready_max_lag.or(file.ready_max_lag).unwrap_or(1000),
        auth: args.auth.or_file(&file).or_local(&local)?.config()?,
        master_key: KeyArgs {
            master_key: args.keys.master_key.or(file.master_key.clone()),
            master_key_id: args.keys.master_key_id.or(file.master_key_id.clone()),
        }
        .or_local(&local)?
        .master_key()?,
    })
}

/// Runs the command line as given.
pub async fn run(cli: Cli) -> Result<(), Error> {
    let data_dir = cli
        .data_dir
        .clone()
        .unwrap_or_else(|| DEFAULT_DATA_DIR.into());
    let local = Local {
        embedded: cli.database_url.is_none(),
        data_dir: data_dir.clone(),
    };
    let url = database_url(cli.database_url.clone(), &data_dir)?;
    match cli.command {
        Command::Serve(args) => {
            // The config file may name the database too.
            let config = serve_config(args, cli.database_url, data_dir)?;
            crate::http::serve(config, None).await
        }
        Command::Bench(args) => {
            let options = crate::bench::BenchOptions {
                backends: args
                    .backends
                    .iter()
                    .map(|b| match b {
                        BenchBackend::Postgres => desist_store::Backend::Postgres,
                        BenchBackend::Sqlite => desist_store::Backend::Sqlite,
                    })
                    .collect(),
                postgres_server: args.postgres,
                national_subjects: args.subjects.max(args.pilot_subjects),
                pilot_subjects: args.pilot_subjects,
                window: args.window.into(),
                seed: args.seed,
                scratch_dir: data_dir.join("bench"),
                keep: args.keep,
            };
            crate::bench::run(&options).await?;
            Ok(())
        }
        Command::Schema => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
        Command::Token(args) => {
            let config = args.auth.or_local(&local)?.config()?;
            let token = crate::auth::token::mint(
                &config,
                &args.user,
                args.role,
                &args.agency,
                args.purpose,
                args.ttl.into(),
            )
            .map_err(Error::Config)?;
            println!("{token}");
            Ok(())
        }
        Command::RotateMasterKey {
            keys,
            new_master_key,
            new_master_key_id,
        } => {
            let current = keys.or_local(&local)?.master_key()?;
            let next =
                desist_store::sealing::MasterKey::from_base64(&new_master_key_id, &new_master_key)
                    .map_err(Error::Config)?;
            let store = open(&url).await?.with_master_key(current);
            let vault = store
                .vault()
                .ok_or_else(|| Error::Config("no master key".into()))?;
            let moved = vault.rewrap_all(&next).await?;
            println!(
                "{moved} subject keys are now wrapped by {new_master_key_id}: set DESIST_MASTER_KEY \
                 and DESIST_MASTER_KEY_ID to the new key and retire the old one"
            );
            Ok(())
        }
        Command::Demo {
            seed,
            subjects,
            keys,
            auth,
        } => {
            let master = keys.or_local(&local)?.master_key()?;
            Store::create_database_if_missing(&url).await?;
            let store = Store::connect(&url, DEFAULT_MAX_CONNECTIONS)
                .await?
                .with_master_key(master);
            store.migrate().await?;
            let report = crate::demo::seed(
                &store,
                DomainServices::system(),
                seed,
                subjects,
                crate::demo::Caseloads::OnePerArea,
            )
            .await?;
            desist_projections::catch_up_all(store.db()).await?;
            println!(
                "demo cohort (seed {seed}): {} people, {} commands, {} recorded now",
                report.subjects, report.commands, report.recorded
            );
            print_sign_in(auth.or_local(&local)?);
            Ok(())
        }
        Command::Backup { file } => {
            let store = open(&url).await?;
            let mut out = std::io::BufWriter::new(
                std::fs::File::create(&file)
                    .map_err(|e| Error::Config(format!("cannot write {}: {e}", file.display())))?,
            );
            let total: i64 = desist_store::db::query_scalar("SELECT count(*) FROM events")
                .fetch_one(store.db())
                .await
                .map_err(desist_store::StoreError::from)?;
            let bar = progress_bar(total as u64, "backup");
            let counts =
                desist_store::backup::backup(store.db(), &mut out, |n| bar.set_position(n)).await?;
            bar.finish_and_clear();
            println!(
                "backed up {} events, {} audit records, {} subject keys, {} identities to {}",
                counts.events,
                counts.audit,
                counts.keys,
                counts.identities,
                file.display()
            );
            Ok(())
        }
        Command::Restore { file } => {
            Store::create_database_if_missing(&url).await?;
            let store = Store::connect(&url, DEFAULT_MAX_CONNECTIONS).await?;
            store.migrate().await?;
            let input = std::io::BufReader::new(
                std::fs::File::open(&file)
                    .map_err(|e| Error::Config(format!("cannot read {}: {e}", file.display())))?,
            );
            let bar = progress_bar(0, "restore");
            let counts =
                desist_store::backup::restore(store.db(), input, |n| bar.set_position(n)).await?;
            bar.finish_and_clear();
            desist_store::horizon::check_xid_horizon(store.db()).await?;
            desist_projections::catch_up_all(store.db()).await?;
            println!(
                "restored {} events, {} audit records, {} subject keys, {} identities; views rebuilt",
                counts.events, counts.audit, counts.keys, counts.identities
            );
            Ok(())
        }
        Command::Audit(args) => {
            let store = open(&url).await?;
            let records = crate::audit::read(
                store.db(),
                &crate::audit::AuditFilter {
                    subject_id: args.subject,
                    actor_id: args.actor,
                    since: args.since,
                    before_id: None,
                    limit: args.limit,
                },
            )
            .await
            .map_err(desist_store::StoreError::from)?;
            for r in records {
                println!(
                    "{} {} {}({}) {} subjects=[{}] purpose={} break_glass={} correlation={}",
                    r.at.to_rfc3339(),
                    r.actor_id,
                    r.role,
                    r.agency,
                    r.operation,
                    r.subject_ids.join(","),
                    r.purpose.unwrap_or_default(),
                    r.break_glass_reason.unwrap_or_default(),
                    r.correlation_id
                );
            }
            Ok(())
        }
        Command::Migrate => {
            Store::create_database_if_missing(&url).await?;
            let store = Store::connect(&url, DEFAULT_MAX_CONNECTIONS).await?;
            store.migrate().await?;
            desist_store::horizon::check_xid_horizon(store.db()).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Projections { action } => {
            let store = open(&url).await?;
            projections(&store, action).await
        }
        Command::Import { file, agency, keys } => {
            let master = keys.or_local(&local)?.master_key()?;
            let store = open(&url).await?.with_master_key(master);
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Error::Config(format!("cannot read {}: {e}", file.display())))?;
            let document: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| Error::Invalid(vec![format!("{}: not JSON: {e}", file.display())]))?;
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let report = import(
                &store,
                DomainServices::system(),
                &document,
                &agency,
                progress,
            )
            .await?;
            println!(
                "imported {}: {} commands recorded, {} already recorded",
                file.display(),
                report.recorded,
                report.already_recorded
            );
            Ok(())
        }
    }
}

async fn projections(store: &Store, action: ProjectionsCommand) -> Result<(), Error> {
    let pool = store.db();
    match action {
        ProjectionsCommand::CatchUp => {
            desist_projections::catch_up_all(pool).await?;
            println!("all projections are up to date");
        }
        ProjectionsCommand::Rebuild { name } => {
            let names: Vec<String> = match name {
                Some(name) => vec![name],
                None => desist_projections::NAMES
                    .iter()
                    .map(|n| n.to_string())
                    .collect(),
            };
            let total: i64 = desist_store::db::query_scalar("SELECT count(*) FROM events")
                .fetch_one(pool)
                .await
                .map_err(desist_store::StoreError::from)?;
            for name in names {
                let bar = progress_bar(total as u64, &name);
                let (generation, progress) =
                    desist_projections::rebuild_by_name(&name, pool, |p| {
                        bar.set_position(p.events)
                    })
                    .await?;
                bar.finish_and_clear();
                println!(
                    "{name}: generation {} is live ({} events applied)",
                    generation.0, progress.events
                );
            }
        }
        ProjectionsCommand::Status => {
            println!(
                "{:<12} {:>10} {:<9} {:>22} {:>14} {:>8}  failure",
                "projection",
                "generation",
                "status",
                "checkpoint (tx:pos)",
                "events applied",
                "lag"
            );
            for s in desist_projections::registry::status(pool).await? {
                let checkpoint = format!("{}:{}", s.checkpoint.tx, s.checkpoint.global_position);
                println!(
                    "{:<12} {:>10} {:<9} {:>22} {:>14} {:>8}  {}",
                    s.name,
                    s.generation,
                    s.status,
                    checkpoint,
                    s.events_applied,
                    s.lag,
                    s.failure.unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

/// A bar on standard error, drawn only when it is a terminal.
fn progress_bar(total: u64, name: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total).with_style(
        indicatif::ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} events ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(name.to_string());
    bar
}

/// How to sign in as each role, and three queries to start with.
fn print_sign_in(auth: AuthArgs) {
    let Ok(config) = auth.config() else {
        println!("set DESIST_JWT_SECRET to print sign-in tokens for each role");
        return;
    };
    println!("\nSign in (bearer tokens, valid 8 hours):");
    let people = [
        ("therapist", "bcp-01", desist_domain::Role::Therapist),
        (
            "probation officer",
            "om-sussex",
            desist_domain::Role::ProbationOfficer,
        ),
        (
            "police SPO officer",
            "pc-01",
            desist_domain::Role::PoliceSpoOfficer,
        ),
        ("evaluator", "ev-01", desist_domain::Role::Evaluator),
        ("admin", "admin-01", desist_domain::Role::Admin),
    ];
    for (label, user, role) in people {
        match crate::auth::token::mint(
            &config,
            user,
            role,
            "demo",
            Some("demo".into()),
            std::time::Duration::from_secs(8 * 3600),
        ) {
            Ok(token) => println!("  {label:<19} {user:<10} {token}"),
            Err(e) => println!("  {label}: {e}"),
        }
    }
    println!(
        "\nTry (with TOKEN set to one of the above, against `desist serve`):\n\
         \x20 curl -s localhost:8080/graphql -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -d '{{\"query\": \"{{ caseload(first: 10) {{ edges {{ node {{ rag reasons nextStep subject {{ ref area }} }} }} }} }}\"}}'\n\
         \x20 curl -s localhost:8080/graphql -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -d '{{\"query\": \"{{ enrolments(first: 5) {{ edges {{ node {{ ref status progress {{ sessionsAttended attendanceRate }} }} }} }} }}\"}}'\n\
         \x20 curl -s localhost:8080/graphql -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -d '{{\"query\": \"{{ outcomes(split: {{ area: true }}) {{ cohorts {{ cohort group {{ value }} n {{ value suppressed }} rate attendanceRate }} }} }}\"}}'"
    );
}

/// Connects to a migrated store.
async fn open(url: &str) -> Result<Store, Error> {
    Ok(Store::open(url, DEFAULT_MAX_CONNECTIONS).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ServeArgs {
        ServeArgs {
            addr: None,
            config: None,
            dev: false,
            max_body_bytes: None,
            max_depth: None,
            max_complexity: None,
            max_aliases: None,
            request_timeout_secs: None,
            ready_max_lag: None,
            auth: AuthArgs {
                jwt_secret: Some("a-test-secret-of-at-least-32-bytes!!".into()),
                ..AuthArgs::default()
            },
            keys: KeyArgs {
                master_key: Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into()),
                master_key_id: None,
            },
        }
    }

    #[test]
    fn serve_settings_come_from_flags_then_the_config_file_then_defaults() {
        let file = std::env::temp_dir().join(format!("desist-{}.toml", std::process::id()));
        std::fs::write(
            &file,
            "addr = \"0.0.0.0:9000\"\ndatabase_url = \"postgres://db/desist\"\nmax_depth = 8\n\
             jwt_issuer = \"probation-idp\"\ndev = true\n",
        )
        .unwrap();
        let mut flags = args();
        flags.config = Some(file.clone());
        flags.max_depth = Some(10);
        let config = serve_config(flags, None, DEFAULT_DATA_DIR.into()).unwrap();
        let _ = std::fs::remove_file(&file);
        assert_eq!(config.addr.to_string(), "0.0.0.0:9000");
        assert_eq!(config.database_url, "postgres://db/desist");
        assert_eq!(config.max_depth, 10, "the flag wins over the file");
        assert!(config.dev);
        assert!(
            matches!(&config.auth, AuthConfig::Local { issuer, .. } if issuer == "probation-idp")
        );
        assert_eq!(config.max_aliases, 30, "default");
    }

    #[test]
    fn an_unknown_key_in_the_config_file_is_an_error_that_names_it() {
        let file = std::env::temp_dir().join(format!("desist-bad-{}.toml", std::process::id()));
        std::fs::write(&file, "max_detph = 8\n").unwrap();
        let mut flags = args();
        flags.config = Some(file.clone());
        let err = serve_config(
            flags,
            Some("postgres://db/x".into()),
            DEFAULT_DATA_DIR.into(),
        )
        .unwrap_err()
        .to_string();
        let _ = std::fs::remove_file(&file);
        assert!(err.contains("max_detph"), "{err}");
    }
}
