//! `keygate keys …`: create, list, show, revoke and rotate keys, and their credits.

use std::sync::Arc;

use keygate_core::key::{KeyId, KeyView, NewKey};
use keygate_core::{AdminError, KeyRecord, Keygate};
use serde::Serialize;
use zeroize::Zeroize as _;

use keygate_core::account::Refill;

use crate::args::{CreateArgs, Interval, KeysCommand};
use crate::failure::{Failure, admin_failure};
use crate::output::{Output, credits, key_fields, or_dash, printable, when};

/// `keys list --json`: the admin API's `GET /api/v1/admin/keys`.
#[derive(Serialize)]
struct KeyList<'a> {
    keys: &'a [KeyView],
}

/// Runs a `keys` command.
pub(super) async fn run(
    keygate: &Keygate,
    command: KeysCommand,
    out: &mut Output,
) -> Result<(), Failure> {
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
        owner: args.owner,
        refill: refill(args.refill_amount, args.refill_interval)?,
        expires_at: args.expires_at,
        metadata: args.metadata.unwrap_or_default(),
        ..NewKey::new(kind, args.environment.into())
    };
    let created = keygate.create_key(new).await.map_err(|err| match err {
        // Every refusal of create names a field of the command line.
        AdminError::Invalid(why) => Failure::usage(&["keys", "create"], as_flag(&why)),
        other => admin_failure(other, None),
    })?;
    // An owner's key shows its account's balance; a refill's, its first amount.
    let mut view = view(keygate, &created.record).await?.with_key(&created.key);
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

/// `--refill-amount` with `--refill-interval` (clap requires them together).
fn refill(amount: Option<u64>, interval: Option<Interval>) -> Result<Option<Refill>, Failure> {
    let (Some(amount), Some(interval)) = (amount, interval) else {
        return Ok(None);
    };
    Refill::new(amount, interval.into())
        .map(Some)
        .map_err(|err| Failure::usage(&["keys", "create"], format!("--refill-amount: {err}")))
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
        ("owner:", "--owner:"),
        ("refill:", "--refill-amount:"),
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

#[cfg(test)]
mod tests {
    use super::*;

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
