//! `keygate accounts …`: read an account (`<tenant>/<owner>`), add to its credits, set or
//! clear its refill rule. The CLI acts as the operator (it holds the database and the
//! pepper), through keygate-core's `KeyAdmin` as the platform's admin routes do.

use keygate_core::account::{AccountView, Refill, RefillInterval};
use keygate_core::{AdminError, Keygate, Principal};

use crate::args::{AccountsCommand, RefillArgs};
use crate::failure::{Failure, admin_failure};
use crate::output::{Output, credits, printable};

/// Runs an `accounts` command.
pub(super) async fn run(
    keygate: &Keygate,
    command: AccountsCommand,
    out: &mut Output,
) -> Result<(), Failure> {
    let operator = Principal::operator();
    let admin = keygate.admin(&operator);
    match command {
        AccountsCommand::Show { account } => {
            let view = admin.get_account(&account).await.map_err(failure)?;
            show(out, &view);
            Ok(())
        }
        AccountsCommand::Credits { account, add } => {
            if let Some(amount) = add {
                admin
                    .add_account_credits(&account, amount)
                    .await
                    .map_err(failure)?;
            }
            let view = admin.get_account(&account).await.map_err(failure)?;
            if out.json() {
                // As POST /api/v1/admin/accounts/{tenant}/{owner}/credits answers.
                out.json_value(&view);
                return Ok(());
            }
            let name = printable(&account.to_string());
            match (add, view.credits) {
                (Some(added), Some(balance)) => {
                    out.line(format!("Added {added} credits: {name} has {balance} now."));
                }
                (_, Some(balance)) => out.line(format!("{name} has {balance} credits.")),
                (_, None) => out.line(format!(
                    "{name} is not metered: its keys are unlimited until it is given credits \
                     (--add) or a refill (`keygate accounts refill`)."
                )),
            }
            Ok(())
        }
        AccountsCommand::Refill(args) => refill(keygate, args, out).await,
    }
}

async fn refill(keygate: &Keygate, args: RefillArgs, out: &mut Output) -> Result<(), Failure> {
    let rule = match (args.amount, args.interval) {
        (Some(amount), Some(interval)) => {
            Some(Refill::new(amount, interval.into()).map_err(|err| {
                Failure::usage(&["accounts", "refill"], format!("--amount: {err}"))
            })?)
        }
        // clap requires --amount and --interval together, or --clear.
        _ => None,
    };
    let operator = Principal::operator();
    let view = keygate
        .admin(&operator)
        .set_account_refill(&args.account, rule)
        .await
        .map_err(failure)?;
    if out.json() {
        out.json_value(&view);
        return Ok(());
    }
    let name = printable(&args.account.to_string());
    match rule {
        Some(rule) => out.line(format!(
            "{name} is set back to {} credits {}, at {}.",
            rule.amount(),
            every(&rule),
            boundary(&rule)
        )),
        None => out.line(format!(
            "{name} has no refill now; its balance stays {}.",
            credits(view.credits)
        )),
    }
    Ok(())
}

/// `daily` → `every day`.
fn every(rule: &Refill) -> &'static str {
    match rule.interval() {
        RefillInterval::Daily => "every day",
        _ => "every month",
    }
}

/// When a rule's boundary falls, in words.
fn boundary(rule: &Refill) -> &'static str {
    match rule.interval() {
        RefillInterval::Daily => "midnight UTC",
        _ => "midnight UTC on the first",
    }
}

/// `accounts show`: the account's fields.
fn show(out: &mut Output, view: &AccountView) {
    if out.json() {
        out.json_value(view);
        return;
    }
    let refill = view.refill.map_or_else(
        || "-".to_owned(),
        |rule| format!("{} {}", rule.amount(), rule.interval().as_str()),
    );
    out.fields(&[
        ("account", printable(&view.account.to_string())),
        ("tenant", printable(&view.account.tenant)),
        ("owner", printable(&view.account.owner)),
        (
            "credits",
            view.credits
                .map_or_else(|| "unlimited (not metered)".to_owned(), |n| n.to_string()),
        ),
        ("refill", refill),
        ("active keys", view.keys.to_string()),
    ]);
}

/// An account operation's failure, in the command line's words.
fn failure(err: AdminError) -> Failure {
    match err {
        AdminError::Invalid(why) => Failure::failed(why.into_owned()),
        other => admin_failure(other, None),
    }
}
