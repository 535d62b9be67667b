//! What each command does: open the deployment as the platform does, ask the engine, and
//! say what happened.

use std::sync::Arc;

use std::path::{Path, PathBuf};

use keygate_core::key::{KeyId, KeyView, NewKey};
use keygate_core::token::{TokenKind, TokenRequest};
use keygate_core::{AdminError, AuthError, KeyRecord, Keygate, Principal, ScopeSet};
use keygate_redis::{RedisConfig, RedisConnection};
use keygate_sqlx::setup::{DEFAULT_DATABASE_URL, Opened, Setup, SetupError, Start};
use serde::Serialize;
use zeroize::Zeroize as _;

use crate::args::{
    Command, CreateArgs, Global, KeysCommand, MintArgs, OauthCommand, TokenType, TokensCommand,
};
use crate::failure::{Failure, Redactions, admin_failure, chain};
use crate::output::{Output, credits, key_fields, or_dash, printable, when};

/// Where the platform listens in the curl line `init` prints.
const PLATFORM_URL: &str = "http://127.0.0.1:8080";

/// Where the deployment is, from the flags and the environment (flags win).
struct Deployment {
    setup: Setup,
    url: String,
    /// `KEYGATE_REDIS_URL`: key changes are published there too, for the caches of
    /// platforms that listen on Redis.
    redis_url: Option<String>,
    pepper_from_env: bool,
    admin_secret_from_env: bool,
}

impl Deployment {
    fn new(global: &Global, redactions: &mut Redactions) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let url = global
            .database_url
            .clone()
            .or_else(|| var("KEYGATE_DATABASE_URL"))
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        redactions.add_url(&url);
        let mut setup = Setup::new(url.clone());
        let mut pepper_from_env = false;
        match (&global.pepper_file, var("KEYGATE_PEPPER")) {
            (Some(path), pepper) => {
                if let Some(pepper) = pepper {
                    redactions.add(&pepper);
                }
                setup = setup.pepper_file(path);
            }
            (None, Some(pepper)) => {
                redactions.add(&pepper);
                setup = setup.pepper(pepper);
                pepper_from_env = true;
            }
            (None, None) => {}
        }
        let admin_secret = var("KEYGATE_ADMIN_SECRET");
        if let Some(secret) = &admin_secret {
            redactions.add(secret);
            setup = setup.admin_secret(secret.as_str());
        }
        if let Some(secret) = var("KEYGATE_TOKEN_SECRET") {
            redactions.add(&secret);
            setup = setup.token_secret(secret);
        }
        let redis_url = var("KEYGATE_REDIS_URL");
        if let Some(redis_url) = &redis_url {
            redactions.add_url(redis_url);
        }
        Self {
            setup,
            url,
            redis_url,
            pepper_from_env,
            admin_secret_from_env: admin_secret.is_some(),
        }
    }

    /// Opens a deployment that is set up, and the engine on it.
    async fn open(self) -> Result<(Opened, Keygate), Failure> {
        let opened = self.setup.open(Start::OpenExisting).await?;
        let keygate = match engine_builder(&opened, self.redis_url.as_deref()) {
            Ok(builder) => builder.build().map_err(|err| Failure::failed(chain(&err))),
            Err(err) => Err(err),
        };
        match keygate {
            Ok(keygate) => Ok((opened, keygate)),
            Err(err) => {
                opened.store().close().await;
                Err(err)
            }
        }
    }
}

/// The engine's builder on `opened`; with Redis, every key change (revoke, rotate) is
/// published there as well as on the SQL channel (Postgres `NOTIFY`, SQLite's change
/// table), so platforms listening on Redis drop the key at once. Nothing is sent to Redis
/// before a change: a command that changes no key works while Redis is down.
fn engine_builder(
    opened: &Opened,
    redis_url: Option<&str>,
) -> Result<keygate_core::KeygateBuilder, Failure> {
    let cache = opened.cached_store().map_err(SetupError::from)?;
    let Some(redis_url) = redis_url else {
        return Ok(opened.keygate_builder_with(cache)?);
    };
    let redis = RedisConnection::connect_lazy(RedisConfig::new(redis_url)).map_err(|err| {
        Failure::failed(format!(
            "{err}: fix KEYGATE_REDIS_URL (redis://[:password@]host:port[/db], or \
             redis+cluster://host:port,host:port), or unset it"
        ))
    })?;
    Ok(opened.keygate_builder_with(redis.publisher(cache))?)
}

/// Runs `command`, writing what it prints to `out`.
pub(crate) async fn run(
    global: &Global,
    command: Command,
    out: &mut Output,
    redactions: &mut Redactions,
) -> Result<(), Failure> {
    let deployment = Deployment::new(global, redactions);
    match command {
        Command::Init => init(deployment, out).await,
        Command::Keys(command) => {
            let (opened, keygate) = deployment.open().await?;
            let result = keys(&keygate, command, out).await;
            opened.store().close().await;
            result
        }
        Command::Tokens(TokensCommand::Mint(args)) => {
            // Checked before the database is opened: a wrong command line opens nothing.
            let request = token_request(&args)?;
            let (opened, keygate) = deployment.open().await?;
            let result = mint(&keygate, &args, request, out);
            opened.store().close().await;
            result
        }
        Command::Oauth(OauthCommand::Clients(command)) => {
            let (opened, _) = deployment.open().await?;
            let result = crate::oauth_clients::run(opened.store(), command, out).await;
            opened.store().close().await;
            result
        }
    }
}

async fn init(deployment: Deployment, out: &mut Output) -> Result<(), Failure> {
    let pepper_path = deployment.setup.pepper_path();
    let opened = deployment.setup.open(Start::CreateOnly).await?;
    let database = describe_database(&deployment.url);
    let pepper_file = pepper_path.as_deref().map(absolute);
    let (pepper_source, pepper_line) = match (opened.created_pepper_file(), &pepper_file) {
        _ if deployment.pepper_from_env => (
            "KEYGATE_PEPPER",
            "from KEYGATE_PEPPER (no file written; keep it with the database's backups)".to_owned(),
        ),
        (Some(_), Some(path)) => (
            "created",
            format!(
                "{} (new, readable by you only: back it up with the database, every key's hash depends on it)",
                path.display()
            ),
        ),
        (None, Some(path)) => (
            "existing",
            format!(
                "{} (was there already, and is used as it is)",
                path.display()
            ),
        ),
        (_, None) => (
            "memory",
            "generated for this in-memory database; gone when keygate exits".to_owned(),
        ),
    };
    let secret = opened.new_admin_secret().map(|secret| secret.expose());

    if out.json() {
        out.json_value(&InitReport {
            database: &database,
            pepper_file: pepper_file
                .as_ref()
                .filter(|_| !deployment.pepper_from_env)
                .map(|path| path.display().to_string()),
            pepper_source,
            admin_secret: secret,
            admin_secret_source: match secret {
                _ if deployment.admin_secret_from_env => "KEYGATE_ADMIN_SECRET",
                Some(_) => "generated",
                None => "stored",
            },
        });
    } else {
        out.line("keygate is set up.");
        out.line("");
        out.fields(&[("database", database), ("pepper", pepper_line)]);
        out.line("");
        let mut header = match secret {
            Some(secret) => {
                out.line("Admin secret (the platform secret for x-client-secret). It is shown this once:");
                out.line("keygate keeps only its hash. Store it in your secret manager now.");
                out.line("");
                out.line(format!("    {secret}"));
                format!("x-client-secret: {secret}")
            }
            None if deployment.admin_secret_from_env => {
                out.line(
                    "Admin secret: the one in KEYGATE_ADMIN_SECRET (nothing was stored; give the",
                );
                out.line("platform the same variable).");
                "x-client-secret: $KEYGATE_ADMIN_SECRET".to_owned()
            }
            None => {
                // Another process set the database up at the same moment: its secret won.
                out.line("Admin secret: another process set this database up at the same moment;");
                out.line("its secret is the one, and was shown there.");
                "x-client-secret: <the admin secret>".to_owned()
            }
        };
        // The variable's value is read by the shell, so it goes in double quotes.
        let quote = if secret.is_none() && deployment.admin_secret_from_env {
            '"'
        } else {
            '\''
        };
        out.line("");
        out.line(format!(
            "Create a first key on the platform ({PLATFORM_URL}):"
        ));
        out.line("");
        out.line(format!(
            "    curl -X POST {PLATFORM_URL}/api/v1/admin/keys \\"
        ));
        out.line(format!("      -H {quote}{header}{quote} \\"));
        out.line("      -H 'content-type: application/json' \\");
        out.line(r#"      -d '{"kind": "secret", "environment": "test", "tenant": "acme"}'"#);
        out.line("");
        out.line("or here:");
        out.line("");
        out.line("    keygate keys create --kind secret --environment test --tenant acme");
        header.zeroize();
    }
    opened.store().close().await;
    Ok(())
}

/// `init --json`.
#[derive(Serialize)]
struct InitReport<'a> {
    database: &'a str,
    pepper_file: Option<String>,
    pepper_source: &'static str,
    admin_secret: Option<&'a str>,
    admin_secret_source: &'static str,
}

/// `keys list --json`: the admin API's `GET /api/v1/admin/keys`.
#[derive(Serialize)]
struct KeyList<'a> {
    keys: &'a [KeyView],
}

/// `tokens mint --json`: the admin API's `POST /api/v1/token`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MintedToken<'a> {
    token: &'a str,
    expires_in: u64,
    action_resource: &'a str,
    action_type: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

async fn keys(keygate: &Keygate, command: KeysCommand, out: &mut Output) -> Result<(), Failure> {
    match command {
        KeysCommand::Create(args) => create(keygate, args, out).await,
        KeysCommand::List { tenant } => list(keygate, tenant.as_deref(), out).await,
        KeysCommand::Show { id } => {
            let id = key_id(&id, "show")?;
            let record = keygate
                .get_key(&id)
                .await
                .map_err(|err| admin_failure(err, Some(&id)))?;
            let view = view(keygate, &record).await?;
            if out.json() {
                out.json_value(&view);
            } else {
                key_fields(out, &view);
            }
            Ok(())
        }
        KeysCommand::Revoke { id } => revoke(keygate, &key_id(&id, "revoke")?, out).await,
        KeysCommand::Rotate { id, grace } => {
            rotate(keygate, &key_id(&id, "rotate")?, grace, out).await
        }
        KeysCommand::Credits { id, add } => {
            let id = key_id(&id, "credits")?;
            let record = keygate
                .get_key(&id)
                .await
                .map_err(|err| admin_failure(err, Some(&id)))?;
            let balance = match add {
                Some(amount) => Some(keygate.add_credits(&id, amount).await.map_err(
                    |err| match err {
                        AdminError::Invalid(why) => Failure::failed(format!(
                            "{why}: only a key created with --credits has a balance to add to"
                        )),
                        other => admin_failure(other, Some(&id)),
                    },
                )?),
                None => keygate
                    .credits(&record)
                    .await
                    .map_err(|err| admin_failure(err, Some(&id)))?,
            };
            if out.json() {
                // As POST /api/v1/admin/keys/{id}/credits answers: the key, with its balance.
                out.json_value(&KeyView::new(&record, balance, keygate.clock().now()));
                return Ok(());
            }
            match (add, balance) {
                (Some(added), Some(balance)) => {
                    out.line(format!("Added {added} credits: {id} has {balance} now."));
                }
                (_, Some(balance)) => out.line(format!("{id} has {balance} credits.")),
                (_, None) => out.line(format!(
                    "{id} is unlimited: it was created without --credits."
                )),
            }
            Ok(())
        }
    }
}

async fn create(keygate: &Keygate, args: CreateArgs, out: &mut Output) -> Result<(), Failure> {
    let kind = args.kind.into();
    match (kind, &args.prefix) {
        (keygate_core::KeyKind::Custom, None) => {
            return Err(Failure::usage(
                &["keys", "create"],
                "a custom key needs --prefix (such as --prefix bijou_)",
            ));
        }
        (keygate_core::KeyKind::Custom, Some(_)) | (_, None) => {}
        (_, Some(_)) => {
            return Err(Failure::usage(
                &["keys", "create"],
                "only a custom key takes --prefix: add --kind custom, or leave --prefix out",
            ));
        }
    }
    let new = NewKey {
        prefix: args.prefix,
        tenant: args.tenant,
        name: args.name,
        scopes: args.scopes,
        rate_limit: args.rate_limit,
        credits: args.credits,
        expires_at: args.expires_at,
        metadata: args.metadata.unwrap_or_default(),
        ..NewKey::new(kind, args.environment.into())
    };
    let created = keygate.create_key(new).await.map_err(|err| match err {
        // Every refusal of create names a field of the command line.
        AdminError::Invalid(why) => Failure::usage(&["keys", "create"], as_flag(&why)),
        other => admin_failure(other, None),
    })?;
    let now = keygate.clock().now();
    let mut view =
        KeyView::new(&created.record, created.record.credits, now).with_key(&created.key);
    if out.json() {
        out.json_value(&view);
    } else {
        out.line(format!(
            "Created {} key {}{}.",
            view.kind.as_str(),
            view.id,
            view.tenant
                .as_deref()
                .map(|tenant| format!(" for tenant {tenant}"))
                .unwrap_or_default()
        ));
        show_key_text(out, created.key.expose());
        key_fields(out, &view);
    }
    if let Some(text) = view.key.as_mut() {
        text.zeroize();
    }
    Ok(())
}

/// An engine refusal (`expires_at: must be in the future`) in the command line's words
/// (`--expires-at: …`).
fn as_flag(why: &str) -> String {
    let flags = [
        ("prefix:", "--prefix:"),
        ("tenant:", "--tenant:"),
        ("name:", "--name:"),
        ("scopes:", "--scope:"),
        ("credits:", "--credits:"),
        ("expires_at:", "--expires-at:"),
        ("metadata:", "--metadata:"),
    ];
    flags
        .iter()
        .find_map(|(field, flag)| why.strip_prefix(field).map(|rest| format!("{flag}{rest}")))
        .unwrap_or_else(|| why.to_owned())
}

/// The key text, with the line that says it is shown once.
fn show_key_text(out: &mut Output, text: &str) {
    out.line("");
    out.line(format!("    {text}"));
    out.line("");
    out.line("This is the only time the key is shown: keygate keeps only its hash. Store it now.");
    out.line("");
}

/// Every key of `tenant` (every key for `None`), oldest first, read page by page.
async fn all_keys(
    keygate: &Keygate,
    tenant: Option<&str>,
) -> Result<Vec<Arc<KeyRecord>>, keygate_core::AdminError> {
    let mut keys: Vec<Arc<KeyRecord>> = Vec::new();
    loop {
        let after = keys.last().map(|key| key.id.clone());
        let page = keygate
            .list_keys(tenant, after.as_ref(), keygate_core::MAX_LIST_LIMIT)
            .await?;
        keys.extend(page.keys);
        if !page.has_more {
            return Ok(keys);
        }
    }
}

async fn list(keygate: &Keygate, tenant: Option<&str>, out: &mut Output) -> Result<(), Failure> {
    let records = all_keys(keygate, tenant)
        .await
        .map_err(|err| admin_failure(err, None))?;
    let mut views = Vec::with_capacity(records.len());
    for record in &records {
        views.push(view(keygate, record).await?);
    }
    if out.json() {
        out.json_value(&KeyList { keys: &views });
        return Ok(());
    }
    if views.is_empty() {
        out.line(match tenant {
            Some(tenant) => format!("No keys for tenant {tenant}."),
            None => "No keys yet: `keygate keys create --help` shows how to make one.".to_owned(),
        });
        return Ok(());
    }
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|view| {
            vec![
                view.id.clone(),
                format!("{}…", view.start),
                view.kind.as_str().to_owned(),
                view.environment.as_str().to_owned(),
                or_dash(view.tenant.as_deref().map(str::to_owned)),
                view.status.to_owned(),
                credits(view.credits),
                when(view.created_at),
                or_dash(view.name.as_deref().map(printable)),
            ]
        })
        .collect();
    out.table(
        &[
            "ID", "START", "KIND", "ENV", "TENANT", "STATUS", "CREDITS", "CREATED", "NAME",
        ],
        &rows,
    );
    Ok(())
}

async fn revoke(keygate: &Keygate, id: &KeyId, out: &mut Output) -> Result<(), Failure> {
    let before = keygate
        .get_key(id)
        .await
        .map_err(|err| admin_failure(err, Some(id)))?;
    let already = before.revoked_at.is_some();
    let record = if already {
        before
    } else {
        keygate
            .revoke_key(id)
            .await
            .map_err(|err| admin_failure(err, Some(id)))?
    };
    let view = view(keygate, &record).await?;
    if out.json() {
        out.json_value(&view);
    } else if already {
        out.line(format!(
            "{id} was revoked already, at {}; nothing changed.",
            or_dash(view.revoked_at.map(when))
        ));
    } else {
        out.line(format!(
            "Revoked {id} ({}…). Every platform instance on this database refuses it from now on.",
            view.start
        ));
    }
    Ok(())
}

async fn rotate(
    keygate: &Keygate,
    id: &KeyId,
    grace: time::Duration,
    out: &mut Output,
) -> Result<(), Failure> {
    let created = match keygate.rotate_key(id, grace).await {
        Ok(created) => created,
        // Revoked, expired or rotated already: the key's state, not the command line.
        Err(AdminError::Invalid(why)) => {
            let hint = match successor(keygate, id).await {
                Some(next) => format!("its successor is {next}"),
                None => format!("`keygate keys show {id}` shows its state"),
            };
            return Err(Failure::failed(format!("{why} ({hint})")));
        }
        Err(other) => return Err(admin_failure(other, Some(id))),
    };
    let now = keygate.clock().now();
    let balance = keygate
        .credits(&created.record)
        .await
        .map_err(|err| admin_failure(err, None))?;
    let mut view = KeyView::new(&created.record, balance, now).with_key(&created.key);
    if out.json() {
        out.json_value(&view);
    } else {
        out.line(format!("Rotated {id}: its successor is {}.", view.id));
        show_key_text(out, created.key.expose());
        if grace.is_zero() {
            out.line(format!("{id} stopped working now."));
        } else {
            out.line(format!(
                "{id} keeps working until {} (grace {} s); then only the new key does.",
                when(created.record.created_at + grace),
                grace.whole_seconds()
            ));
        }
        out.line("");
        key_fields(out, &view);
    }
    if let Some(text) = view.key.as_mut() {
        text.zeroize();
    }
    Ok(())
}

/// The newest key that replaced key `id`, if it was rotated.
async fn successor(keygate: &Keygate, id: &KeyId) -> Option<KeyId> {
    let record = keygate.get_key(id).await.ok()?;
    record.valid_until?;
    let family = all_keys(keygate, record.tenant.as_deref()).await.ok()?;
    family
        .iter()
        .filter(|key| key.lineage == record.lineage && key.created_at > record.created_at)
        .max_by_key(|key| key.created_at)
        .map(|key| key.id.clone())
}

/// The token request `args` describe; a usage error when they do not fit together.
fn token_request(args: &MintArgs) -> Result<TokenRequest, Failure> {
    let kind = match args.kind {
        TokenType::OneTime => TokenKind::OneTime,
        TokenType::Session => TokenKind::Session,
    };
    if kind == TokenKind::OneTime && args.duration.is_some() {
        return Err(Failure::usage(
            &["tokens", "mint"],
            "--duration applies to session tokens (a one-time token lives 300 s): add --type session",
        ));
    }
    let scope = format!("{}:{}", args.resource, args.action);
    let scopes = ScopeSet::parse([scope.as_str()])
        .map_err(|err| Failure::usage(&["tokens", "mint"], format!("scope {scope}: {err}")))?;
    Ok(TokenRequest {
        scopes: Some(scopes),
        lifetime: args
            .duration
            .map(|minutes| time::Duration::minutes(i64::from(minutes))),
        user_reference: args.user_reference.clone(),
        catalogue_id: args.catalogue.clone(),
        ..TokenRequest::new(kind)
    })
}

fn mint(
    keygate: &Keygate,
    args: &MintArgs,
    request: TokenRequest,
    out: &mut Output,
) -> Result<(), Failure> {
    let token = keygate
        .issue_token(&Principal::operator(), request)
        .map_err(|err| match err {
            AuthError::InvalidRequest(why) => Failure::usage(&["tokens", "mint"], why),
            other => Failure::failed(chain(&other)),
        })?;
    let (kind, lasts) = match token.kind {
        TokenKind::Session => ("SESSION", "any number of times until it expires"),
        _ => ("ONE_TIME", "once, until it expires"),
    };
    if out.json() {
        // The shape of POST /api/v1/token's answer.
        // The shape of POST /api/v1/token's answer.
        out.json_value(&MintedToken {
            token: token.expose(),
            expires_in: token.expires_in(),
            action_resource: &args.resource,
            action_type: &args.action,
            kind,
        });
    } else {
        out.line(format!("    {}", token.expose()));
        out.line("");
        out.line("keygate keeps no copy of the token: this is the only time it is shown.");
        out.line("");
        out.fields(&[
            ("type", kind.to_lowercase().replace('_', "-")),
            ("scope", format!("{}:{}", args.resource, args.action)),
            ("valid", lasts.to_owned()),
            (
                "expires",
                format!("{} (in {} s)", when(token.expires_at), token.expires_in()),
            ),
            ("user reference", or_dash(args.user_reference.clone())),
            ("catalogue", or_dash(args.catalogue.clone())),
        ]);
    }
    Ok(())
}

/// The admin API's view of `record`, with its balance now.
async fn view(keygate: &Keygate, record: &KeyRecord) -> Result<KeyView, Failure> {
    let balance = keygate
        .credits(record)
        .await
        .map_err(|err| admin_failure(err, Some(&record.id)))?;
    Ok(KeyView::new(record, balance, keygate.clock().now()))
}

/// A key id as a command line gives it. The value is not repeated when it is not an id:
/// it may be a key's text pasted in the wrong place.
fn key_id(text: &str, command: &str) -> Result<KeyId, Failure> {
    let well_formed = text
        .strip_prefix("key_")
        .is_some_and(|rest| rest.len() == 24 && rest.bytes().all(|b| b.is_ascii_alphanumeric()));
    if well_formed {
        Ok(KeyId::new(text))
    } else {
        Err(Failure::usage(
            &["keys", command],
            "<ID> is a key id: key_ and 24 letters or digits, as `keygate keys list` shows \
             (not the key's text)",
        ))
    }
}

/// Where the database is, for people: a SQLite file's absolute path, or a Postgres URL
/// without its user, password and parameters.
fn describe_database(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" || rest.contains("mode=memory") {
            return "SQLite, in memory (gone when keygate exits)".to_owned();
        }
        return format!("SQLite, {}", absolute(Path::new(path)).display());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return "the database at --database-url (or KEYGATE_DATABASE_URL)".to_owned();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("Postgres, {scheme}://{host}/{path}")
}

/// `path`, absolute when the working directory is known.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn databases_are_described_without_credentials() {
        assert_eq!(
            describe_database(
                "postgres://kg:hunter2@db.internal:5432/keygate?sslmode=require&password=x"
            ),
            "Postgres, postgres://db.internal:5432/keygate"
        );
        assert_eq!(
            describe_database("sqlite:///var/lib/keygate/keygate.db?mode=rwc"),
            "SQLite, /var/lib/keygate/keygate.db"
        );
        assert!(describe_database("sqlite::memory:").contains("in memory"));
    }

    #[test]
    fn key_ids_are_checked_without_being_repeated() {
        assert!(key_id("key_0123456789abcdefghijklmn", "show").is_ok());
        let text = "sk_live_0123456789abcdefghijklmnopqrstuvABCDEF";
        let Err(Failure::Usage(err)) = key_id(text, "show") else {
            unreachable!("refused");
        };
        assert!(!err.render().to_string().contains(text));
    }
}
