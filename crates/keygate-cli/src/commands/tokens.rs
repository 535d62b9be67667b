//! `keygate tokens mint`: a token for one resource and action, as `POST /api/v1/token` mints it.

use keygate_core::token::{TokenKind, TokenRequest};
use keygate_core::{AuthError, Keygate, Principal, ScopeSet};
use serde::Serialize;

use crate::args::{MintArgs, TokenType};
use crate::failure::{Failure, chain};
use crate::output::{Output, or_dash, when};

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

/// The token request `args` describe; a usage error when they do not fit together.
pub(super) fn request(args: &MintArgs) -> Result<TokenRequest, Failure> {
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

pub(super) fn mint(
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
