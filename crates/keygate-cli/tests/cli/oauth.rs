//! `keygate oauth clients …`: a confidential client's secret is shown by create only, a
//! public client gets none, list never shows secrets, and remove revokes the client's
//! grants on the same database the platform's authorization server reads.

use std::sync::Arc;

use keygate_sqlx::setup::{Setup, Start};

use crate::common::{Deployment, on_every_store};

on_every_store!(
    create_shows_the_secret_once_and_list_never,
    bad_redirect_uris_and_scopes_are_usage_errors,
    remove_revokes_the_clients_grants,
);

async fn create_shows_the_secret_once_and_list_never(d: &Deployment) {
    d.init();
    let stdout = d
        .run(&[
            "oauth",
            "clients",
            "create",
            "--name",
            "Acme CRM",
            "--tenant",
            "acme",
            "--redirect-uri",
            "https://crm.acme.example/callback",
            "--scope",
            "read:users,read:orders",
        ])
        .ok();
    let secret = stdout
        .lines()
        .find_map(|line| line.strip_prefix("client_secret: "))
        .expect("the secret, once")
        .to_owned();
    assert!(secret.starts_with("cs_"), "{stdout}");
    assert!(stdout.contains("not shown again"), "{stdout}");
    let id = stdout
        .lines()
        .filter(|line| line.starts_with("client_id"))
        .find_map(|line| line.split_whitespace().nth(1))
        .expect("the client id")
        .to_owned();
    assert!(id.starts_with("cl_"), "{stdout}");

    let public = d
        .run(&[
            "--json",
            "oauth",
            "clients",
            "create",
            "--name",
            "Acme mobile",
            "--public",
            "--redirect-uri",
            "com.acme.app:/oauth",
            "--scope",
            "read:users",
        ])
        .json();
    assert_eq!(public["client_secret"], serde_json::Value::Null);
    assert_eq!(public["confidential"], false);

    let listed = d.run(&["oauth", "clients", "list"]).ok();
    assert!(listed.contains(&id) && listed.contains("confidential") && listed.contains("public"));
    assert!(!listed.contains(&secret[3..]), "{listed}");
    let json = d
        .run(&["--json", "oauth", "clients", "list", "--tenant", "acme"])
        .json();
    let clients = json["clients"].as_array().expect("a list");
    assert_eq!(clients.len(), 1);
    assert_eq!(clients[0]["client_id"], id.as_str());
    assert!(!json.to_string().contains(&secret[3..]));
}

async fn bad_redirect_uris_and_scopes_are_usage_errors(d: &Deployment) {
    d.init();
    for (uri, scope) in [
        ("http://crm.acme.example/callback", "read:users"),
        ("https://crm.acme.example/cb#frag", "read:users"),
        ("https://crm.acme.example/cb", "not a scope"),
    ] {
        d.run(&[
            "oauth",
            "clients",
            "create",
            "--name",
            "x",
            "--redirect-uri",
            uri,
            "--scope",
            scope,
        ])
        .refused(2, &[]);
    }
    d.run(&["oauth", "clients", "remove", "cl_nobody"])
        .refused(1, &["no OAuth client", "list"]);
}

async fn remove_revokes_the_clients_grants(d: &Deployment) {
    d.init();
    let created = d
        .run(&[
            "--json",
            "oauth",
            "clients",
            "create",
            "--name",
            "App",
            "--public",
            "--redirect-uri",
            "https://app.example/cb",
            "--scope",
            "read:users",
        ])
        .json();
    let id = created["client_id"].as_str().expect("an id").to_owned();
    // The platform's side: an authorization server on the same database issues a token.
    let opened = Setup::new(d.url.clone())
        .pepper_file(d.pepper_file())
        .open(Start::OpenExisting)
        .await
        .expect("the deployment");
    let h = keygate_oauth::testing::harness::Harness::sharing(
        Arc::new(opened.store().oauth()),
        keygate_core::ManualClock::new(time::OffsetDateTime::now_utc()),
    );
    let query = format!(
        "response_type=code&client_id={id}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_challenge={}&code_challenge_method=S256",
        keygate_oauth::testing::harness::CHALLENGE
    );
    let request = h.authorize(&query).await.expect("a valid request");
    let owner = keygate_oauth::ResourceOwner {
        subject: "user_1".into(),
        tenant: None,
    };
    let redirect = h.server.approve(&request, &owner).await;
    let code = keygate_oauth::testing::harness::Harness::redirect_param(&redirect, "code")
        .expect("a code");
    let mut exchange = form_pairs(&code);
    exchange.push(("client_id", id.clone()));
    let pairs: Vec<(&str, &str)> = exchange.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let tokens = h
        .token_raw(&[], &keygate_oauth::testing::harness::encode(&pairs), None)
        .await;
    assert_eq!(tokens.status, 200, "{:?}", tokens.json);
    let access = tokens.text("access_token");
    h.call(&access).await.expect("the token works");

    let removed = d.run(&["oauth", "clients", "remove", &id]).ok();
    assert!(removed.contains("revoked"), "{removed}");
    // Past the other instance's one-second cache, the token is refused.
    h.clock.advance(time::Duration::seconds(1));
    assert_eq!(h.call(&access).await.unwrap_err().code(), "invalid_token");
    assert!(
        d.run(&["--json", "oauth", "clients", "list"]).json()["clients"]
            .as_array()
            .expect("a list")
            .is_empty()
    );
    opened.store().close().await;
}

fn form_pairs(code: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", "https://app.example/cb".to_owned()),
        (
            "code_verifier",
            keygate_oauth::testing::harness::VERIFIER.to_owned(),
        ),
    ]
}
