//! `keygate tokens mint`: tokens the platform accepts, in the token route's shape.

use crate::common::{Deployment, call, on_every_store};

on_every_store!(
    a_one_time_token_works_once,
    a_session_token_lives_its_duration,
    a_token_secret_is_used_like_the_platform_uses_it,
);

async fn a_one_time_token_works_once(d: &Deployment) {
    d.init();
    let stdout = d
        .run(&["tokens", "mint", "--resource", "lens", "--action", "create"])
        .ok();
    let token = stdout.lines().next().unwrap().trim();
    assert!(stdout.contains("one-time"), "{stdout}");
    assert!(stdout.contains("lens:create"), "{stdout}");
    assert!(stdout.contains("(in 300 s)"), "{stdout}");
    let keygate = d.engine().await;
    assert_eq!(
        call(&keygate, token, "fill:create").await,
        Err("insufficient_scope"),
        "outside its scope, and left unused"
    );
    assert_eq!(call(&keygate, token, "lens:create").await, Ok(()));
    assert_eq!(
        call(&keygate, token, "lens:create").await,
        Err("token_used")
    );
}

async fn a_session_token_lives_its_duration(d: &Deployment) {
    d.init();
    let shown = d
        .run(&[
            "--json",
            "tokens",
            "mint",
            "--resource",
            "magic-background",
            "--action",
            "*",
            "--type",
            "session",
            "--duration",
            "60",
            "--user-reference",
            "user_42",
            "--catalogue",
            "cat_7",
        ])
        .json();
    // The answer of POST /api/v1/token.
    let mut fields: Vec<&str> = shown
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["actionResource", "actionType", "expiresIn", "token", "type"]
    );
    assert_eq!(shown["expiresIn"], 3600);
    assert_eq!(shown["actionResource"], "magic-background");
    assert_eq!(shown["actionType"], "*");
    assert_eq!(shown["type"], "SESSION");
    let token = shown["token"].as_str().unwrap();
    let keygate = d.engine().await;
    for _ in 0..3 {
        assert_eq!(
            call(&keygate, token, "magic-background:create").await,
            Ok(())
        );
    }
    let request = http::Request::post("/")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap();
    let grant = keygate
        .authenticate(
            &request,
            &keygate_core::Access::scoped("magic-background:read").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(grant.principal().user_reference.as_deref(), Some("user_42"));
    assert_eq!(grant.principal().catalogue_id.as_deref(), Some("cat_7"));

    let session = d
        .run(&[
            "tokens",
            "mint",
            "--resource",
            "lens",
            "--action",
            "read",
            "--type",
            "session",
        ])
        .ok();
    assert!(
        session.contains("(in 300 s)"),
        "5 minutes by default: {session}"
    );
}

async fn a_token_secret_is_used_like_the_platform_uses_it(d: &Deployment) {
    d.init();
    let token_secret = "0123456789abcdef0123456789abcdef";
    let shown = crate::common::ran(
        d.keygate()
            .env("KEYGATE_TOKEN_SECRET", token_secret)
            .args([
                "--json",
                "tokens",
                "mint",
                "--resource",
                "lens",
                "--action",
                "create",
            ])
            .args(["--type", "session"]),
    )
    .json();
    let token = shown["token"].as_str().unwrap();
    let platform = keygate_sqlx::setup::Setup::new(&d.url)
        .pepper_file(d.pepper_file())
        .token_secret(token_secret)
        .open(keygate_sqlx::setup::Start::OpenExisting)
        .await
        .unwrap()
        .keygate_builder()
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(call(&platform, token, "lens:create").await, Ok(()));
    assert_eq!(
        call(&d.engine().await, token, "lens:create").await,
        Err("invalid_token"),
        "a platform signing with a key derived from the pepper refuses it"
    );
}
