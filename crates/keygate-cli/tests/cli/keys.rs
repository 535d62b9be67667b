//! `keygate keys …`: what each command prints in both forms, that the text of a key is
//! shown by create and rotate only, and what the platform's engine makes of the keys.

use std::time::{Duration, Instant};

use crate::common::{Deployment, call, on_every_store};

on_every_store!(
    create_shows_the_text_once_and_every_setting,
    list_and_show_never_show_the_text,
    list_filters_by_tenant,
    a_created_key_authenticates_and_a_revoked_one_is_refused,
    a_running_engine_learns_of_the_revocation,
    rotate_hands_over_after_the_grace_period,
    credits_are_read_and_added,
);

/// The random part of a key: what must never be printed after create and rotate.
fn secret_part(key: &str) -> &str {
    &key[key.len() - 30..]
}

async fn create_shows_the_text_once_and_every_setting(d: &Deployment) {
    d.init();
    let stdout = d
        .run(&[
            "keys",
            "create",
            "--kind",
            "restricted",
            "--environment",
            "live",
            "--tenant",
            "acme",
            "--name",
            "Acme billing",
            "--scope",
            "read:users",
            "--scope",
            "write:orders,read:orders",
            "--rate-limit",
            "100/60s",
            "--credits",
            "500",
            "--expires-at",
            "2099-01-01T00:00:00Z",
            "--metadata",
            r#"{"team": "billing"}"#,
        ])
        .ok();
    let key = stdout
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("rk_live_"))
        .unwrap_or_else(|| panic!("the key text: {stdout}"));
    assert_eq!(stdout.matches(secret_part(key)).count(), 1, "{stdout}");
    assert!(
        stdout.contains("This is the only time the key is shown"),
        "{stdout}"
    );
    for shown in [
        "restricted",
        "acme",
        "Acme billing",
        "read:orders read:users write:orders",
        "100/60s",
        "500",
        "2099-01-01T00:00:00Z",
        r#"{"team":"billing"}"#,
    ] {
        assert!(stdout.contains(shown), "{shown} in {stdout}");
    }

    let shown = d
        .run(&[
            "--json",
            "keys",
            "create",
            "--kind",
            "custom",
            "--prefix",
            "bijou_",
            "--scope",
            "detect:create",
            "--rate-limit",
            "10/s",
        ])
        .json();
    let key = shown["key"].as_str().unwrap();
    assert!(key.starts_with("bijou_"), "{shown}");
    assert_eq!(shown["kind"], "custom");
    assert_eq!(
        shown["environment"], "test",
        "test unless --environment live"
    );
    assert_eq!(shown["prefix"], "bijou_");
    assert_eq!(
        shown["start"],
        &key[..shown["start"].as_str().unwrap().len()]
    );
    assert_eq!(shown["rate_limit"]["limit"], 10);
    assert_eq!(shown["rate_limit"]["window_seconds"], 1);
    assert_eq!(shown["credits"], serde_json::Value::Null);
    assert_eq!(shown["status"], "active");
    assert!(shown["id"].as_str().unwrap().starts_with("key_"));
    let keygate = d.engine().await;
    assert_eq!(call(&keygate, key, "detect:create").await, Ok(()));
    assert_eq!(
        call(&keygate, key, "lens:create").await,
        Err("insufficient_scope")
    );
}

async fn list_and_show_never_show_the_text(d: &Deployment) {
    d.init();
    let (id, key) = d.create(&[
        "--kind",
        "secret",
        "--tenant",
        "acme",
        "--credits",
        "7",
        "--name",
        "evil\u{1b}[2J",
    ]);
    let (other, other_key) = d.create(&["--kind", "publishable", "--tenant", "beta"]);
    let outputs = [
        d.run(&["keys", "list"]).ok(),
        d.run(&["--json", "keys", "list"]).ok(),
        d.run(&["keys", "show", &id]).ok(),
        d.run(&["keys", "show", &id, "--json"]).ok(),
        d.run(&["keys", "list", "--tenant", "acme"]).ok(),
    ];
    for out in &outputs {
        assert!(out.contains(&id), "{out}");
        for text in [&key, &other_key] {
            assert!(!out.contains(secret_part(text)), "a key's text in {out}");
        }
        assert!(
            !out.contains('\u{1b}'),
            "a terminal escape from the name in {out}"
        );
    }
    let [list, list_json, show, show_json, _] = outputs;
    assert!(list.contains(&other));
    assert!(list.lines().next().unwrap().starts_with("ID "), "{list}");
    let listed: serde_json::Value = serde_json::from_str(&list_json).unwrap();
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|key| key.get("key").is_none()), "{listed}");
    assert_eq!(keys[0]["id"], id.as_str(), "oldest first");
    assert_eq!(
        keys[0]["name"], "evil\u{1b}[2J",
        "JSON keeps the name as stored"
    );
    assert!(show.contains("credits      7"), "{show}");
    let shown: serde_json::Value = serde_json::from_str(&show_json).unwrap();
    assert_eq!(shown["credits"], 7);
    assert_eq!(shown["tenant"], "acme");
    assert!(shown.get("key").is_none());
}

async fn list_filters_by_tenant(d: &Deployment) {
    d.init();
    let (acme, _) = d.create(&["--kind", "secret", "--tenant", "acme"]);
    let (beta, _) = d.create(&["--kind", "secret", "--tenant", "beta"]);
    let (platform, _) = d.create(&["--kind", "secret"]);
    let listed = d
        .run(&["--json", "keys", "list", "--tenant", "acme"])
        .json();
    let ids: Vec<&str> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [acme.as_str()]);
    let table = d.run(&["keys", "list", "--tenant", "beta"]).ok();
    assert!(table.contains(&beta) && !table.contains(&acme) && !table.contains(&platform));
    assert_eq!(
        d.run(&["keys", "list", "--tenant", "nobody"]).ok().trim(),
        "No keys for tenant nobody."
    );
}

async fn a_created_key_authenticates_and_a_revoked_one_is_refused(d: &Deployment) {
    d.init();
    let (id, key) = d.create(&["--kind", "secret", "--tenant", "acme"]);
    assert_eq!(call(&d.engine().await, &key, "lens:create").await, Ok(()));

    let stdout = d.run(&["keys", "revoke", &id]).ok();
    assert!(stdout.contains(&format!("Revoked {id}")), "{stdout}");
    assert!(!stdout.contains(secret_part(&key)));
    assert_eq!(
        call(&d.engine().await, &key, "lens:create").await,
        Err("key_revoked")
    );

    // Revoking again changes nothing and says so.
    let again = d.run(&["keys", "revoke", &id]).ok();
    assert!(again.contains("revoked already"), "{again}");
    let shown = d.run(&["--json", "keys", "revoke", &id]).json();
    assert_eq!(shown["status"], "revoked");
    assert!(shown["revoked_at"].is_string());
}

async fn a_running_engine_learns_of_the_revocation(d: &Deployment) {
    d.init();
    let (id, key) = d.create(&["--kind", "secret"]);
    // A running platform: its key cache holds the key after the first request.
    let running = d.engine().await;
    assert_eq!(call(&running, &key, "lens:create").await, Ok(()));
    assert_eq!(call(&running, &key, "lens:create").await, Ok(()));

    d.run(&["keys", "revoke", &id]).ok();
    let start = Instant::now();
    loop {
        match call(&running, &key, "lens:create").await {
            Err("key_revoked") => break,
            other => assert!(
                start.elapsed() < Duration::from_secs(10),
                "still {other:?} after {:?}",
                start.elapsed()
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn rotate_hands_over_after_the_grace_period(d: &Deployment) {
    d.init();
    let (first, first_key) = d.create(&["--kind", "secret", "--credits", "10"]);
    let stdout = d.run(&["keys", "rotate", &first, "--grace", "1h"]).ok();
    let second_key = stdout
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("sk_test_"))
        .unwrap_or_else(|| panic!("the new key: {stdout}"))
        .to_owned();
    assert_eq!(
        stdout.matches(secret_part(&second_key)).count(),
        1,
        "{stdout}"
    );
    assert!(!stdout.contains(secret_part(&first_key)));
    assert!(stdout.contains("keeps working until"), "{stdout}");
    assert!(stdout.contains("This is the only time the key is shown"));
    let keygate = d.engine().await;
    assert_eq!(call(&keygate, &first_key, "lens:create").await, Ok(()));
    assert_eq!(call(&keygate, &second_key, "lens:create").await, Ok(()));

    // The same key cannot be rotated twice: the message names its successor.
    let second = d.run(&["--json", "keys", "list"]).json()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["id"].as_str().unwrap().to_owned())
        .find(|id| *id != first)
        .unwrap();
    d.run(&["keys", "rotate", &first, "--grace", "0"])
        .refused(1, &["already rotated", &second]);

    // A rotation without grace ends the old key now; the JSON is the admin API's.
    let shown = d
        .run(&["--json", "keys", "rotate", &second, "--grace", "0"])
        .json();
    let third_key = shown["key"].as_str().unwrap();
    assert_eq!(shown["kind"], "secret");
    assert_eq!(shown["credits"], 10, "the balance carries over");
    let keygate = d.engine().await;
    assert_eq!(
        call(&keygate, &second_key, "lens:create").await,
        Err("key_expired")
    );
    assert_eq!(call(&keygate, third_key, "lens:create").await, Ok(()));
    d.run(&["keys", "rotate", &first, "--grace", "0"])
        .refused(1, &["already rotated"]);
}

async fn credits_are_read_and_added(d: &Deployment) {
    d.init();
    let (id, _) = d.create(&["--kind", "secret", "--credits", "10"]);
    assert_eq!(
        d.run(&["keys", "credits", &id]).ok().trim(),
        format!("{id} has 10 credits.")
    );
    assert_eq!(
        d.run(&["keys", "credits", &id, "--add", "5"]).ok().trim(),
        format!("Added 5 credits: {id} has 15 now.")
    );
    let shown = d
        .run(&["--json", "keys", "credits", &id, "--add", "1"])
        .json();
    assert_eq!(shown["credits"], 16);
    assert_eq!(shown["id"], id.as_str());
    assert!(shown.get("key").is_none());
    assert_eq!(
        d.run(&["--json", "keys", "credits", &id]).json()["credits"],
        16
    );

    let (unlimited, _) = d.create(&["--kind", "secret"]);
    assert!(
        d.run(&["keys", "credits", &unlimited])
            .ok()
            .contains("unlimited")
    );
    d.run(&["keys", "credits", &unlimited, "--add", "5"])
        .refused(1, &["unlimited", "--credits"]);
}
