//! The command line's grammar: commands, options, and the parsers that refuse a bad value
//! before anything is opened (clap reports those as usage errors, exit code 2).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use keygate_core::account::{Account, RefillInterval};
use keygate_core::credentials::is_valid_id;
use keygate_core::credentials::is_valid_user_id;
use keygate_core::key::{KeyPrefix, MAX_NAME_LEN, MAX_ROTATION_GRACE, Metadata, RateLimit};
use keygate_core::meter::MAX_CREDITS;
use keygate_core::{Environment, KeyKind, Scope};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const ABOUT: &str = "Set up a keygate deployment, manage its API keys, OAuth clients and tokens, on SQLite or Postgres";

const LONG_ABOUT: &str = "\
Set up a keygate deployment, manage its API keys and mint tokens, on SQLite or Postgres.

keygate works on the same database and pepper as the platform it serves: a key created
here works there at once, and a key revoked here is refused there within a second.

Where the deployment is:
  KEYGATE_DATABASE_URL   the database (default sqlite://keygate.db); --database-url overrides
  KEYGATE_PEPPER         the pepper, as the pepper file holds it; without it the file
                         keygate.pepper beside the SQLite file (or in the working directory
                         for Postgres) is used; --pepper-file names another file
  KEYGATE_TOKEN_SECRET   the token signing secret, if the platform has one
  KEYGATE_ADMIN_SECRET   the platform secret, if the platform is given one (init only)

Exit codes: 0 done; 1 failed (the message says why: no database, unknown key, ...);
2 the command line is wrong (unknown option, a value keygate refuses): fix it and rerun.";

const AFTER_HELP: &str = "\
Examples:
  keygate init
  keygate keys create --kind secret --environment live --tenant acme --name \"Acme production\"
  keygate keys create --kind restricted --tenant acme --scope read:users --rate-limit 100/60s --credits 500
  keygate keys list --tenant acme
  keygate keys rotate key_0123456789abcdefghijklmn --grace 1h
  keygate keys revoke key_0123456789abcdefghijklmn
  keygate keys create --kind secret --environment live --tenant acme --owner user_42
  keygate accounts credits acme/user_42 --add 1000
  keygate accounts refill acme/user_42 --amount 500 --interval daily
  keygate tokens mint --resource lens --action create
  keygate oauth clients create --name \"Acme CRM\" --redirect-uri https://crm.acme.example/cb --scope read:users
  keygate --json keys list | jq '.keys[].id'";

/// The `keygate` command line.
#[derive(Debug, Parser)]
#[command(
    name = "keygate",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true,
    arg_required_else_help = true
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct Global {
    /// The database: sqlite://path/to/keygate.db or postgres://user@host/db
    /// [default: $KEYGATE_DATABASE_URL, else sqlite://keygate.db]
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) database_url: Option<String>,

    /// The pepper file, instead of keygate.pepper beside the database (overrides
    /// $KEYGATE_PEPPER)
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) pepper_file: Option<PathBuf>,

    /// Print JSON (the admin API's shapes) instead of tables, for scripts
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the database, the pepper and the admin secret (shown once)
    #[command(long_about = INIT_ABOUT, after_help = INIT_AFTER_HELP)]
    Init,
    /// Create, list, show, revoke and rotate API keys; read and add credits
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Mint issued tokens, for testing and support
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Register, list and remove OAuth clients (third-party apps)
    #[command(subcommand)]
    Oauth(OauthCommand),
    /// Read accounts (TENANT/OWNER: one user's keys and credits); add credits, set refills
    #[command(subcommand)]
    Accounts(AccountsCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum AccountsCommand {
    /// Show an account's balance, refill rule and active keys
    #[command(
        after_help = "Examples:\n  keygate accounts show acme/user_42\n  keygate --json accounts show 'acme/auth0|abc'"
    )]
    Show {
        /// The account: TENANT/OWNER, the owner a user id (such as acme/auth0|abc)
        #[arg(value_name = "TENANT/OWNER", value_parser = parse_account)]
        account: Account,
    },
    /// Show an account's balance, or add to it with --add
    #[command(
        after_help = "Examples:\n  keygate accounts credits acme/user_42\n  keygate accounts credits acme/user_42 --add 1000"
    )]
    Credits {
        /// The account: TENANT/OWNER
        #[arg(value_name = "TENANT/OWNER", value_parser = parse_account)]
        account: Account,
        /// Credits to add, shared by every key of the account
        #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_added_credits)]
        add: Option<u64>,
    },
    /// Set the balance back to --amount at each UTC day or month, or --clear the rule
    #[command(long_about = REFILL_ABOUT, after_help = REFILL_AFTER_HELP)]
    Refill(RefillArgs),
}

const REFILL_ABOUT: &str = "\
Give an account a refill rule: at each boundary (midnight UTC, or the first of the month
at midnight UTC) its balance is set back to --amount, not added to, once however many
platform instances see the boundary. --clear removes the rule and leaves the balance as
it is.";

const REFILL_AFTER_HELP: &str = "\
Examples:
  keygate accounts refill acme/user_42 --amount 500 --interval daily
  keygate accounts refill acme/user_42 --amount 10000 --interval monthly
  keygate accounts refill acme/user_42 --clear";

/// `accounts refill`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("rule").required(true).args(["amount", "clear"])))]
pub(crate) struct RefillArgs {
    /// The account: TENANT/OWNER
    #[arg(value_name = "TENANT/OWNER", value_parser = parse_account)]
    pub(crate) account: Account,
    /// The balance at each boundary
    #[arg(long, value_name = "N", requires = "interval", allow_negative_numbers = true, value_parser = parse_added_credits)]
    pub(crate) amount: Option<u64>,
    /// How often: daily (midnight UTC) or monthly (the first, at midnight UTC)
    #[arg(long, value_enum, value_name = "INTERVAL", requires = "amount")]
    pub(crate) interval: Option<Interval>,
    /// Remove the rule
    #[arg(long, conflicts_with_all = ["amount", "interval"])]
    pub(crate) clear: bool,
}

/// `--interval` of a refill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Interval {
    /// At every midnight UTC
    Daily,
    /// On the first of every month, at midnight UTC
    Monthly,
}

impl From<Interval> for RefillInterval {
    fn from(interval: Interval) -> Self {
        match interval {
            Interval::Daily => RefillInterval::Daily,
            Interval::Monthly => RefillInterval::Monthly,
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum OauthCommand {
    /// OAuth clients: the apps that may ask users for access tokens
    #[command(subcommand)]
    Clients(ClientsCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClientsCommand {
    /// Register a client; a confidential client's secret is printed this once
    #[command(after_help = CLIENT_CREATE_AFTER_HELP)]
    Create(ClientArgs),
    /// List clients (never their secrets), oldest first
    #[command(
        after_help = "Examples:\n  keygate oauth clients list\n  keygate --json oauth clients list --tenant acme"
    )]
    List {
        /// Only this tenant's clients
        #[arg(long, value_name = "TENANT", value_parser = parse_id)]
        tenant: Option<String>,
    },
    /// Remove a client and revoke every grant it holds: its tokens stop working
    Remove {
        /// The client id (cl_…)
        #[arg(value_name = "CLIENT_ID")]
        id: String,
    },
}

const CLIENT_CREATE_AFTER_HELP: &str = "\
Examples:
  keygate oauth clients create --name \"Acme CRM\" --redirect-uri https://crm.acme.example/callback --scope read:users,read:orders
  keygate oauth clients create --name \"Acme mobile\" --public --redirect-uri com.acme.app:/oauth --scope read:users --tenant acme";

/// `oauth clients create`.
#[derive(Debug, Args)]
pub(crate) struct ClientArgs {
    /// A name to show users
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub(crate) name: String,
    /// An exact redirect URI (repeat for several): https://…, http://localhost…, or a
    /// private-use scheme such as com.example.app:/cb
    #[arg(long = "redirect-uri", value_name = "URI", required = true)]
    pub(crate) redirect_uris: Vec<String>,
    /// A scope the client may ask for (repeat, or separate with commas)
    #[arg(long = "scope", value_name = "SCOPE", value_delimiter = ',', value_parser = parse_scope, required = true)]
    pub(crate) scopes: Vec<String>,
    /// The tenant the client belongs to: only that tenant's users can authorize it
    #[arg(long, value_name = "TENANT", value_parser = parse_id)]
    pub(crate) tenant: Option<String>,
    /// A public client (a native or browser app): no secret, PKCE alone
    #[arg(long)]
    pub(crate) public: bool,
}

const INIT_ABOUT: &str = "\
Create the database, the pepper and the admin secret, the same way the platform's first
start does.

The admin secret (the platform secret, sent in x-client-secret) is printed once: keygate
keeps only its hash. With KEYGATE_ADMIN_SECRET set, that secret is used and nothing is
stored. The pepper file is written readable by its owner only; back it up with the
database: every key's hash depends on it.

init refuses a database that is set up already and changes nothing in it.";

const INIT_AFTER_HELP: &str = "\
Examples:
  keygate init
  keygate --database-url sqlite:///var/lib/keygate/keygate.db init
  KEYGATE_DATABASE_URL=postgres://keygate@db/keygate keygate --pepper-file /etc/keygate/pepper init";

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Create a key; its text is printed this once
    #[command(long_about = CREATE_ABOUT, after_help = CREATE_AFTER_HELP)]
    Create(CreateArgs),
    /// List keys (never their text), oldest first
    #[command(
        after_help = "Examples:\n  keygate keys list\n  keygate keys list --tenant acme\n  keygate --json keys list --tenant acme"
    )]
    List {
        /// Only this tenant's keys
        #[arg(long, value_name = "TENANT", value_parser = parse_id)]
        tenant: Option<String>,
    },
    /// Show one key's settings, status and credit balance (never its text)
    Show {
        /// The key's id (key_…), as `keygate keys list` shows it
        id: String,
    },
    /// Revoke a key: every platform instance refuses it from now on
    #[command(long_about = REVOKE_ABOUT)]
    Revoke {
        /// The key's id (key_…), as `keygate keys list` shows it
        id: String,
    },
    /// Replace a key with a new one of the same settings; the new text is printed once
    #[command(long_about = ROTATE_ABOUT, after_help = ROTATE_AFTER_HELP)]
    Rotate {
        /// The key's id (key_…), as `keygate keys list` shows it
        id: String,
        /// How long the old key keeps working: seconds, or a number with s, m, h or d
        /// (0 to 30d; 0 stops it now)
        #[arg(long, value_name = "DURATION", value_parser = parse_grace)]
        grace: time::Duration,
    },
    /// Show a key's credit balance, or add to it with --add
    #[command(
        after_help = "Examples:\n  keygate keys credits key_0123456789abcdefghijklmn\n  keygate keys credits key_0123456789abcdefghijklmn --add 1000"
    )]
    Credits {
        /// The key's id (key_…), as `keygate keys list` shows it
        id: String,
        /// Credits to add (a key created without --credits is unlimited and takes none)
        #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_added_credits)]
        add: Option<u64>,
    },
}

const CREATE_ABOUT: &str = "\
Create a key. Its text is printed this once: keygate stores only a hash of it.

Kinds: secret (sk_) acts with every scope of its tenant; restricted (rk_) only with its
--scope list; publishable (pk_) identifies a tenant and grants nothing without a user
token; custom (your --prefix) acts with its --scope list.";

const CREATE_AFTER_HELP: &str = "\
Examples:
  keygate keys create --kind secret --environment live --tenant acme
  keygate keys create --kind restricted --tenant acme --scope read:users --scope write:orders
  keygate keys create --kind custom --prefix bijou_ --scope detect:create --credits 500 --rate-limit 10/s
  keygate keys create --kind publishable --tenant acme --expires-at 2027-01-01T00:00:00Z \\
      --metadata '{\"team\": \"web\"}'
  keygate keys create --kind secret --environment live --tenant acme --owner 'auth0|abc'
  keygate keys create --kind secret --tenant acme --refill-amount 500 --refill-interval daily";

const REVOKE_ABOUT: &str = "\
Revoke a key: from now on it is refused with key_revoked. A running platform on the same
database learns of it by itself (within a second on SQLite, at once on Postgres).
Revoking a revoked key changes nothing.";

const ROTATE_ABOUT: &str = "\
Replace a key with a new one of the same settings (kind, tenant, scopes, rate limit,
credits, expiry, metadata). The new key's text is printed this once. The old key keeps
working for the --grace period, so clients can move over; its rate limit and credits are
shared with the new key.

For a leaked key, rotate with --grace 0 (or revoke it).";

const ROTATE_AFTER_HELP: &str = "\
Examples:
  keygate keys rotate key_0123456789abcdefghijklmn --grace 1h
  keygate keys rotate key_0123456789abcdefghijklmn --grace 0";

/// `keygate keys create`: the admin API's fields, as options.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// What the key may do
    #[arg(long, value_enum, value_name = "KIND")]
    pub(crate) kind: Kind,

    /// Live or test data (the prefix says which: sk_live_, sk_test_)
    #[arg(long, value_enum, value_name = "ENV", default_value_t = Env::Test)]
    pub(crate) environment: Env,

    /// The prefix of a custom key: 1 to 16 of a-z 0-9, then _ (such as bijou_)
    #[arg(long, value_name = "PREFIX", value_parser = parse_prefix)]
    pub(crate) prefix: Option<String>,

    /// The tenant the key belongs to
    #[arg(long, value_name = "TENANT", value_parser = parse_id)]
    pub(crate) tenant: Option<String>,

    /// A label for people (at most 128 characters)
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub(crate) name: Option<String>,

    /// A scope such as read:users; repeat the option (or separate with commas) for more
    #[arg(long = "scope", value_name = "SCOPE", value_delimiter = ',', value_parser = parse_scope)]
    pub(crate) scopes: Vec<String>,

    /// At most LIMIT requests per WINDOW: 100/60s, 1000/1h, 10/s
    #[arg(long, value_name = "LIMIT/WINDOW", value_parser = parse_rate_limit)]
    pub(crate) rate_limit: Option<RateLimit>,

    /// A credit allowance (each metered request spends some); without it the key is
    /// unlimited
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_credits)]
    pub(crate) credits: Option<u64>,

    /// The user the key belongs to (a user id such as auth0|abc; needs --tenant): the key
    /// draws on the account TENANT/OWNER's credits and acts for that user only
    #[arg(long, value_name = "USER_ID", value_parser = parse_owner)]
    pub(crate) owner: Option<String>,

    /// Set the key's credits back to N at each --refill-interval (UTC)
    #[arg(long, value_name = "N", requires = "refill_interval", allow_negative_numbers = true, value_parser = parse_added_credits)]
    pub(crate) refill_amount: Option<u64>,

    /// How often the key's credits are set back: daily or monthly
    #[arg(long, value_enum, value_name = "INTERVAL", requires = "refill_amount")]
    pub(crate) refill_interval: Option<Interval>,

    /// When the key stops working, in RFC 3339 (2027-01-01T00:00:00Z)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub(crate) expires_at: Option<OffsetDateTime>,

    /// Free-form JSON object shown with the key and in its principal (at most 4 KiB)
    #[arg(long, value_name = "JSON", value_parser = parse_metadata)]
    pub(crate) metadata: Option<Metadata>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokensCommand {
    /// Mint a one-time or session token for one resource and action
    #[command(long_about = MINT_ABOUT, after_help = MINT_AFTER_HELP)]
    Mint(MintArgs),
}

const MINT_ABOUT: &str = "\
Mint a token as the platform operator would with POST /api/v1/token: its scope is
<resource>:<action>, it belongs to no tenant, and every instance that shares the pepper
(or KEYGATE_TOKEN_SECRET) accepts it. keygate keeps no copy.

A one-time token is valid for 300 s or until its first use; a session token for
--duration minutes (1 to 1440, default 5), any number of times.";

const MINT_AFTER_HELP: &str = "\
Examples:
  keygate tokens mint --resource lens --action create
  keygate tokens mint --resource magic-background --action '*' --type session --duration 60
  keygate tokens mint --resource catalogue --action read --user-reference user_42 --catalogue cat_7";

/// `keygate tokens mint`: the token route's fields, as options.
#[derive(Debug, Args)]
pub(crate) struct MintArgs {
    /// The resource (actionResource), one scope segment; the reference platform's are lens,
    /// object-detection, 2d-to-3d, fill, swap, room-visualize, property-visualize,
    /// magic-background, catalogue, upload, token and *
    #[arg(long, value_name = "RESOURCE", value_parser = parse_resource)]
    pub(crate) resource: String,

    /// The action (actionType)
    #[arg(long, value_name = "ACTION", value_parser = ["create", "read", "update", "delete", "*"])]
    pub(crate) action: String,

    /// One-time or session
    #[arg(long = "type", value_enum, value_name = "TYPE", default_value_t = TokenType::OneTime)]
    pub(crate) kind: TokenType,

    /// A session token's lifetime in minutes, 1 to 1440 [default: 5]
    #[arg(long, value_name = "MINUTES", value_parser = clap::value_parser!(u16).range(1..=1440))]
    pub(crate) duration: Option<u16>,

    /// The user the token is for (userReference)
    #[arg(long, value_name = "ID", value_parser = parse_id)]
    pub(crate) user_reference: Option<String>,

    /// The catalogue the token is for (catalogueId)
    #[arg(long, value_name = "ID", value_parser = parse_id)]
    pub(crate) catalogue: Option<String>,
}

/// `--kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Kind {
    /// sk_: every scope of its tenant
    Secret,
    /// rk_: only its listed scopes
    Restricted,
    /// pk_: identifies a tenant, grants nothing alone
    Publishable,
    /// Your --prefix: its listed scopes
    Custom,
}

impl From<Kind> for KeyKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Secret => KeyKind::Secret,
            Kind::Restricted => KeyKind::Restricted,
            Kind::Publishable => KeyKind::Publishable,
            Kind::Custom => KeyKind::Custom,
        }
    }
}

/// `--environment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Env {
    /// Production
    Live,
    /// Test mode
    Test,
}

impl From<Env> for Environment {
    fn from(env: Env) -> Self {
        match env {
            Env::Live => Environment::Live,
            Env::Test => Environment::Test,
        }
    }
}

/// `--type` of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TokenType {
    /// Valid for 300 s or until its first use
    OneTime,
    /// Valid for --duration minutes, any number of times
    Session,
}

fn parse_prefix(text: &str) -> Result<String, String> {
    match KeyPrefix::custom(text) {
        Ok(prefix) => Ok(prefix.as_str().to_owned()),
        Err(_) if !text.ends_with('_') && KeyPrefix::custom(&format!("{text}_")).is_ok() => {
            Err(format!("a prefix ends in '_': did you mean {text}_?"))
        }
        Err(_) => Err(
            "a custom prefix is 1 to 16 of a-z 0-9 followed by '_', such as bijou_ \
             (sk_, pk_, rk_ and ek_ are reserved)"
                .to_owned(),
        ),
    }
}

/// A tenant, user reference or catalogue id.
fn parse_id(text: &str) -> Result<String, String> {
    if is_valid_id(text) {
        Ok(text.to_owned())
    } else {
        Err("give 1 to 128 of A-Z a-z 0-9 . _ : @ -".to_owned())
    }
}

/// A user id: an account's owner.
fn parse_owner(text: &str) -> Result<String, String> {
    if is_valid_user_id(text) {
        Ok(text.to_owned())
    } else {
        Err("a user id is 1 to 128 of A-Z a-z 0-9 . _ : @ | -".to_owned())
    }
}

/// `<tenant>/<owner>`.
fn parse_account(text: &str) -> Result<Account, String> {
    text.parse::<Account>().map_err(|err| {
        format!(
            "{err}; an account is <tenant>/<owner>, such as acme/user_42 (quote a | in a shell)"
        )
    })
}

fn parse_name(text: &str) -> Result<String, String> {
    if text.chars().count() > MAX_NAME_LEN {
        Err(format!("a name is at most {MAX_NAME_LEN} characters"))
    } else {
        Ok(text.to_owned())
    }
}

fn parse_scope(text: &str) -> Result<String, String> {
    Scope::new(text)
        .map(|_| text.to_owned())
        .map_err(|err| format!("{err} (such as read:users or magic-background:*)"))
}

fn parse_resource(text: &str) -> Result<String, String> {
    if !text.contains(':') && Scope::new(text).is_ok() {
        Ok(text.to_owned())
    } else {
        Err("a resource is one word of A-Z a-z 0-9 _ . - (such as lens), or *".to_owned())
    }
}

fn parse_credits(text: &str) -> Result<u64, String> {
    parse_count(text, 0)
}

fn parse_added_credits(text: &str) -> Result<u64, String> {
    parse_count(text, 1)
}

/// A whole number of credits from `least` to [`MAX_CREDITS`].
fn parse_count(text: &str, least: u64) -> Result<u64, String> {
    let range = format!("give a whole number from {least} to {MAX_CREDITS}");
    if text.trim_start().starts_with('-') {
        return Err(format!("credits cannot be negative: {range}"));
    }
    match text.parse::<u64>() {
        Ok(n) if (least..=MAX_CREDITS).contains(&n) => Ok(n),
        _ => Err(range),
    }
}

fn parse_rate_limit(text: &str) -> Result<RateLimit, String> {
    const SHAPE: &str = "give LIMIT/WINDOW, such as 100/60s, 1000/1h or 10/s \
                         (1 to 1000000 requests per 1 s to 366 d)";
    let (limit, window) = text.split_once('/').ok_or(SHAPE)?;
    let limit: u32 = limit.trim().parse().map_err(|_| SHAPE)?;
    // A bare unit is one of it: 10/s, 1000/h.
    let window = window.trim();
    let window = if window.starts_with(|c: char| c.is_ascii_digit()) {
        parse_duration(window)
    } else {
        parse_duration(&format!("1{window}"))
    }
    .ok_or(SHAPE)?;
    let seconds = u32::try_from(window.whole_seconds()).map_err(|_| SHAPE)?;
    RateLimit::new(limit, seconds).map_err(|_| SHAPE.to_owned())
}

fn parse_grace(text: &str) -> Result<time::Duration, String> {
    const SHAPE: &str = "give seconds, or a number with s, m, h or d (such as 3600 or 1h), \
                         from 0 to 30d";
    match parse_duration(text) {
        Some(grace) if grace <= MAX_ROTATION_GRACE => Ok(grace),
        _ => Err(SHAPE.to_owned()),
    }
}

/// `90`, `90s`, `15m`, `1h`, `30d` (also `min`, `sec`): a non-negative whole duration.
fn parse_duration(text: &str) -> Option<time::Duration> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: i64 = number.parse().ok()?;
    let unit: i64 = match unit.trim() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        _ => return None,
    };
    Some(time::Duration::seconds(number.checked_mul(unit)?))
}

fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| "give a time in RFC 3339, such as 2027-01-01T00:00:00Z".to_owned())
}

fn parse_metadata(text: &str) -> Result<Metadata, String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(object)) => Ok(object),
        Ok(_) => Err("metadata is a JSON object, such as '{\"team\": \"web\"}'".to_owned()),
        Err(err) => Err(format!(
            "not JSON ({err}); give an object such as '{{\"team\": \"web\"}}'"
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn rate_limits_read_as_written() {
        let parsed = |text| parse_rate_limit(text).map(|r| (r.limit(), r.window_seconds()));
        assert_eq!(parsed("100/60s"), Ok((100, 60)));
        assert_eq!(parsed("100/60"), Ok((100, 60)));
        assert_eq!(parsed("10/s"), Ok((10, 1)));
        assert_eq!(parsed("1000/1h"), Ok((1000, 3600)));
        assert_eq!(parsed("5/min"), Ok((5, 60)));
        assert_eq!(parsed("5 / 2d"), Ok((5, 172_800)));
        for bad in [
            "",
            "100",
            "/60s",
            "0/60s",
            "100/0s",
            "100/60x",
            "-1/60s",
            "1/367d",
            "1/99999999999999999999d",
        ] {
            assert!(parsed(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn grace_periods_are_bounded() {
        assert_eq!(parse_grace("0"), Ok(time::Duration::ZERO));
        assert_eq!(parse_grace("3600"), Ok(time::Duration::hours(1)));
        assert_eq!(parse_grace("30d"), Ok(time::Duration::days(30)));
        for bad in ["31d", "-1", "1w", "", "h", "9223372036854775807d"] {
            assert!(parse_grace(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credits_are_whole_and_not_negative() {
        assert_eq!(parse_credits("0"), Ok(0));
        assert!(parse_credits("-5").unwrap_err().contains("negative"));
        assert!(parse_credits("1.5").is_err());
        assert!(parse_added_credits("0").is_err());
        assert!(parse_credits(&(MAX_CREDITS + 1).to_string()).is_err());
    }

    #[test]
    fn prefixes_follow_the_key_format() {
        assert_eq!(parse_prefix("bijou_"), Ok("bijou_".to_owned()));
        assert!(parse_prefix("bijou").unwrap_err().contains("bijou_?"));
        assert!(parse_prefix("sk_").is_err());
        assert!(parse_prefix("Bijou_").is_err());
    }

    #[test]
    fn accounts_are_tenant_slash_owner() {
        let account = parse_account("acme/auth0|abc").unwrap();
        assert_eq!(account.to_string(), "acme/auth0|abc");
        for bad in ["acme", "acme/", "/u1", "ac me/u1", "acme/u 1"] {
            assert!(parse_account(bad).is_err(), "{bad}");
        }
        assert!(parse_owner("auth0|abc").is_ok());
        assert!(parse_owner("a b").is_err());
    }

    #[test]
    fn metadata_is_an_object() {
        assert!(parse_metadata(r#"{"a": 1}"#).is_ok());
        assert!(parse_metadata("[1]").is_err());
        assert!(parse_metadata("{").unwrap_err().contains("not JSON"));
    }
}
