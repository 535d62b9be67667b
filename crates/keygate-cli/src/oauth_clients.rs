//! `keygate oauth clients create|list|remove`: the OAuth client registry, on the same
//! database the platform's authorization server reads.

use std::sync::Arc;

use keygate_core::ScopeSet;
use keygate_oauth::client::{ClientRecord, NewClient};
use keygate_oauth::{AuthorizationServer, RegisterError};
use keygate_sqlx::SqlStore;
use secrecy::ExposeSecret as _;
use serde_json::json;

use crate::args::{ClientArgs, ClientsCommand};
use crate::failure::Failure;
use crate::output::{Output, or_dash, printable, when};

/// Most clients `list` prints.
const LIST_LIMIT: usize = 1000;

fn server(store: &SqlStore) -> Result<AuthorizationServer, Failure> {
    // The issuer names the platform in `iss` and its metadata; registering, listing and
    // removing clients use none of it.
    AuthorizationServer::builder("http://127.0.0.1:8080")
        .store(Arc::new(store.oauth()))
        .build()
        .map_err(|err| Failure::failed(err.to_string()))
}

fn unavailable(err: &keygate_core::StoreError) -> Failure {
    Failure::failed(format!(
        "the database did not answer ({err}); check that it is running and retry"
    ))
}

fn client_json(record: &ClientRecord) -> serde_json::Value {
    json!({
        "client_id": &*record.id,
        "name": record.name,
        "tenant": record.tenant.as_deref(),
        "redirect_uris": record.redirect_uris,
        "scopes": record.scopes,
        "confidential": record.is_confidential(),
        "created_at": record.created_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    })
}

pub(crate) async fn run(
    store: &SqlStore,
    command: ClientsCommand,
    out: &mut Output,
) -> Result<(), Failure> {
    let server = server(store)?;
    match command {
        ClientsCommand::Create(args) => create(&server, args, out).await,
        ClientsCommand::List { tenant } => {
            let clients = server
                .store()
                .clients(tenant.as_deref(), LIST_LIMIT)
                .await
                .map_err(|err| unavailable(&err))?;
            if out.json() {
                let list: Vec<_> = clients.iter().map(client_json).collect();
                out.json_value(&json!({ "clients": list }));
                return Ok(());
            }
            if clients.is_empty() {
                out.line("No OAuth clients yet: `keygate oauth clients create --help` shows how to register one.");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = clients
                .iter()
                .map(|c| {
                    vec![
                        c.id.to_string(),
                        if c.is_confidential() {
                            "confidential"
                        } else {
                            "public"
                        }
                        .to_owned(),
                        or_dash(c.tenant.as_deref().map(str::to_owned)),
                        c.scopes.to_space_separated(),
                        when(c.created_at),
                        printable(&c.name),
                    ]
                })
                .collect();
            out.table(
                &["ID", "TYPE", "TENANT", "SCOPES", "CREATED", "NAME"],
                &rows,
            );
            Ok(())
        }
        ClientsCommand::Remove { id } => {
            if !server
                .remove_client(&id)
                .await
                .map_err(|err| unavailable(&err))?
            {
                return Err(Failure::failed(
                    "no OAuth client has this id: `keygate oauth clients list` shows them",
                ));
            }
            if out.json() {
                out.json_value(&json!({ "removed": id }));
            } else {
                out.line(format!(
                    "Removed {id}: its grants are revoked and its tokens refused."
                ));
            }
            Ok(())
        }
    }
}

async fn create(
    server: &AuthorizationServer,
    args: ClientArgs,
    out: &mut Output,
) -> Result<(), Failure> {
    let scopes = ScopeSet::parse(&args.scopes).map_err(|err| Failure::failed(err.to_string()))?;
    let new = NewClient {
        name: args.name,
        tenant: args.tenant,
        redirect_uris: args.redirect_uris,
        scopes,
        confidential: !args.public,
    };
    let created = server.register_client(new).await.map_err(|err| match err {
        RegisterError::Invalid(why) => Failure::usage(&["oauth", "clients", "create"], why),
        RegisterError::Store(err) => unavailable(&err),
        other => Failure::failed(other.to_string()),
    })?;
    let secret = created
        .secret
        .as_ref()
        .map(|s| s.expose_secret().to_owned());
    if out.json() {
        let mut value = client_json(&created.record);
        if let Some(map) = value.as_object_mut() {
            map.insert("client_secret".to_owned(), json!(secret));
        }
        out.json_value(&value);
        return Ok(());
    }
    out.fields(&[
        ("client_id", created.record.id.to_string()),
        ("name", printable(&created.record.name)),
        (
            "tenant",
            or_dash(created.record.tenant.as_deref().map(str::to_owned)),
        ),
        ("scopes", created.record.scopes.to_space_separated()),
        ("redirect_uris", created.record.redirect_uris.join(" ")),
    ]);
    match secret {
        Some(secret) => {
            out.line("");
            out.line(format!("client_secret: {secret}"));
            out.line("Copy the secret now: only its hash is stored, it is not shown again.");
        }
        None => out.line("A public client: it has no secret and uses PKCE alone."),
    }
    Ok(())
}
