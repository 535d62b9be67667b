//! The audit trail: what the engine decided and what administrators changed, as
//! [`AuditEvent`]s handed to an [`AuditSink`].
//!
//! The engine records every refusal, every request served under impersonation, and every
//! key created, revoked, rotated or topped up. Applications record their own admin
//! changes (a catalogue edited, say) through [`Keygate::audit`](crate::Keygate::audit).
//! Events carry ids, codes and the acting [`Principal`] (which holds no secret), never a
//! credential.
//!
//! The default sink, [`TracingAudit`], writes each event as a `tracing` event with target
//! `keygate::audit`: changes and impersonation at `info`, refusals at `debug` (anyone can
//! cause a refusal, so they are not worth an `info` line each). Plug in your own with
//! [`KeygateBuilder::audit`](crate::KeygateBuilder::audit); a closure is a sink:
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use keygate_core::audit::AuditEvent;
//! use keygate_core::{Keygate, Pepper};
//!
//! let seen: Arc<Mutex<Vec<String>>> = Arc::default();
//! let log = Arc::clone(&seen);
//! let keygate = Keygate::builder()
//!     .pepper(Pepper::generate()?)
//!     .audit(move |event: &AuditEvent<'_>| {
//!         log.lock().unwrap().push(event.name().to_owned());
//!     })
//!     .build()?;
//! # let _ = keygate;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A sink is called on the request path, synchronously: keep it quick (hand events to a
//! channel if they go to a database), and never let it panic.

use crate::access::AuthMethod;
use crate::key::{Environment, KeyId, KeyKind};
use crate::principal::Principal;

/// Something worth an audit record. `by` is who acted, when known: `None` for trusted
/// tooling that called the engine without a principal (the `keygate` command line).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum AuditEvent<'a> {
    /// A request was refused.
    Denied {
        /// The error's `code` (`invalid_api_key`, `insufficient_scope`, …).
        code: &'static str,
        /// The HTTP status it answers with.
        status: u16,
    },
    /// A request was let through acting on behalf of a user (`X-On-Behalf-Of`).
    Impersonation {
        /// The key that acts.
        actor: &'a KeyId,
        /// The user it acts as.
        user: &'a str,
        /// The tenant it acts in.
        tenant: Option<&'a str>,
        /// How the key was presented.
        method: AuthMethod,
    },
    /// An API key was created.
    KeyCreated {
        /// Who created it.
        by: Option<&'a Principal>,
        /// The new key.
        key_id: &'a KeyId,
        /// Its tenant.
        tenant: Option<&'a str>,
        /// Its kind.
        kind: KeyKind,
        /// Live or test.
        environment: Environment,
    },
    /// An API key was revoked.
    KeyRevoked {
        /// Who revoked it.
        by: Option<&'a Principal>,
        /// The key.
        key_id: &'a KeyId,
        /// Its tenant.
        tenant: Option<&'a str>,
    },
    /// An API key was replaced by a successor.
    KeyRotated {
        /// Who rotated it.
        by: Option<&'a Principal>,
        /// The key replaced.
        key_id: &'a KeyId,
        /// The new key.
        successor: &'a KeyId,
        /// Their tenant.
        tenant: Option<&'a str>,
    },
    /// Credits were added to a key.
    CreditsAdded {
        /// Who added them.
        by: Option<&'a Principal>,
        /// The key.
        key_id: &'a KeyId,
        /// Its tenant.
        tenant: Option<&'a str>,
        /// How many.
        amount: u64,
    },
    /// An application's own admin change, such as `catalogue.update`.
    AdminChange {
        /// Who made it.
        by: Option<&'a Principal>,
        /// What was done, as `<resource>.<verb>`.
        action: &'a str,
        /// The id of what changed.
        target: &'a str,
        /// The tenant it belongs to.
        tenant: Option<&'a str>,
    },
}

impl AuditEvent<'_> {
    /// A stable name for the event: `denied`, `impersonation`, `key.created`,
    /// `key.revoked`, `key.rotated`, `key.credits_added`, or an admin change's action.
    pub fn name(&self) -> &str {
        match self {
            Self::Denied { .. } => "denied",
            Self::Impersonation { .. } => "impersonation",
            Self::KeyCreated { .. } => "key.created",
            Self::KeyRevoked { .. } => "key.revoked",
            Self::KeyRotated { .. } => "key.rotated",
            Self::CreditsAdded { .. } => "key.credits_added",
            Self::AdminChange { action, .. } => action,
        }
    }
}

/// Where audit events go. Implemented for closures `Fn(&AuditEvent<'_>)`.
pub trait AuditSink: Send + Sync + 'static {
    /// Records one event. Called synchronously, on the request path.
    fn record(&self, event: &AuditEvent<'_>);
}

impl<F> AuditSink for F
where
    F: Fn(&AuditEvent<'_>) + Send + Sync + 'static,
{
    fn record(&self, event: &AuditEvent<'_>) {
        self(event);
    }
}

/// The default sink: one `tracing` event per audit event, target `keygate::audit`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingAudit;

/// The acting principal, as log fields: its method, key and tenant (`-` when none).
fn who(by: Option<&Principal>) -> (&'static str, &str, &str) {
    match by {
        None => ("tooling", "-", "-"),
        Some(principal) => (
            principal.method.as_str(),
            principal.key_id.as_ref().map_or("-", KeyId::as_str),
            principal.tenant.as_deref().unwrap_or("-"),
        ),
    }
}

impl AuditSink for TracingAudit {
    fn record(&self, event: &AuditEvent<'_>) {
        const TARGET: &str = "keygate::audit";
        let name = event.name();
        match *event {
            AuditEvent::Denied { code, status } => {
                tracing::debug!(target: TARGET, event = name, code, status);
            }
            AuditEvent::Impersonation {
                actor,
                user,
                tenant,
                method,
            } => tracing::info!(
                target: TARGET,
                event = name,
                actor = actor.as_str(),
                user,
                tenant = tenant.unwrap_or("-"),
                method = method.as_str(),
            ),
            AuditEvent::KeyCreated {
                by,
                key_id,
                tenant,
                kind,
                environment,
            } => {
                let (by_method, by_key, by_tenant) = who(by);
                tracing::info!(
                    target: TARGET,
                    event = name,
                    key_id = key_id.as_str(),
                    tenant = tenant.unwrap_or("-"),
                    kind = kind.as_str(),
                    environment = environment.as_str(),
                    by_method,
                    by_key,
                    by_tenant,
                );
            }
            AuditEvent::KeyRevoked { by, key_id, tenant } => {
                let (by_method, by_key, by_tenant) = who(by);
                tracing::info!(
                    target: TARGET,
                    event = name,
                    key_id = key_id.as_str(),
                    tenant = tenant.unwrap_or("-"),
                    by_method,
                    by_key,
                    by_tenant,
                );
            }
            AuditEvent::KeyRotated {
                by,
                key_id,
                successor,
                tenant,
            } => {
                let (by_method, by_key, by_tenant) = who(by);
                tracing::info!(
                    target: TARGET,
                    event = name,
                    key_id = key_id.as_str(),
                    successor = successor.as_str(),
                    tenant = tenant.unwrap_or("-"),
                    by_method,
                    by_key,
                    by_tenant,
                );
            }
            AuditEvent::CreditsAdded {
                by,
                key_id,
                tenant,
                amount,
            } => {
                let (by_method, by_key, by_tenant) = who(by);
                tracing::info!(
                    target: TARGET,
                    event = name,
                    key_id = key_id.as_str(),
                    tenant = tenant.unwrap_or("-"),
                    amount,
                    by_method,
                    by_key,
                    by_tenant,
                );
            }
            AuditEvent::AdminChange {
                by,
                action: _,
                target,
                tenant,
            } => {
                let (by_method, by_key, by_tenant) = who(by);
                tracing::info!(
                    target: TARGET,
                    event = name,
                    target,
                    tenant = tenant.unwrap_or("-"),
                    by_method,
                    by_key,
                    by_tenant,
                );
            }
        }
    }
}
