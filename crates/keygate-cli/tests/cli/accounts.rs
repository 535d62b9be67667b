//! `keygate accounts …` and `keys create --owner`: an account's balance shared by its
//! keys, top-ups and refill rules, in both output forms, and what the engine makes of
//! them.

use crate::common::{Deployment, on_every_store};

on_every_store!(
    owner_keys_share_the_account_balance,
    refill_rules_are_set_and_cleared,
    account_commands_refuse_bad_input,
);

async fn owner_keys_share_the_account_balance(d: &Deployment) {
    d.init();
    let owned = [
        "--kind",
        "secret",
        "--environment",
        "live",
        "--tenant",
        "acme",
        "--owner",
        "auth0|abc",
    ];
    let shown = d
        .run(&[&["--json", "keys", "create"], &owned[..]].concat())
        .json();
    assert_eq!(shown["owner"], "auth0|abc");
    assert_eq!(shown["credits"], serde_json::Value::Null);
    d.create(&owned);
    let account = d
        .run(&["--json", "accounts", "show", "acme/auth0|abc"])
        .json();
    assert_eq!(
        account,
        serde_json::json!({"tenant": "acme", "owner": "auth0|abc", "credits": null,
            "refill": null, "keys": 2})
    );
    let text = d.run(&["accounts", "show", "acme/auth0|abc"]).ok();
    for shown in ["acme/auth0|abc", "unlimited", "active keys  2"] {
        assert!(text.contains(shown), "{shown} in {text}");
    }
    assert!(
        d.run(&["accounts", "credits", "acme/auth0|abc"])
            .ok()
            .contains("not metered")
    );
    assert_eq!(
        d.run(&["accounts", "credits", "acme/auth0|abc", "--add", "30"])
            .ok()
            .trim(),
        "Added 30 credits: acme/auth0|abc has 30 now."
    );
    let topped = d
        .run(&[
            "--json",
            "accounts",
            "credits",
            "acme/auth0|abc",
            "--add",
            "5",
        ])
        .json();
    assert_eq!(topped["credits"], 35);
    // Every key of the account shows the account's balance.
    let listed = d
        .run(&["--json", "keys", "list", "--tenant", "acme"])
        .json();
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for key in keys {
        assert_eq!(key["credits"], 35, "{key}");
        assert_eq!(key["owner"], "auth0|abc");
    }
    // Another account is its own.
    assert_eq!(
        d.run(&["--json", "accounts", "show", "acme/user_2"]).json()["keys"],
        0
    );
}

async fn refill_rules_are_set_and_cleared(d: &Deployment) {
    d.init();
    let set = d
        .run(&[
            "accounts",
            "refill",
            "acme/user_1",
            "--amount",
            "500",
            "--interval",
            "daily",
        ])
        .ok();
    assert!(set.contains("set back to 500 credits every day"), "{set}");
    let account = d.run(&["--json", "accounts", "show", "acme/user_1"]).json();
    assert_eq!(
        account["refill"],
        serde_json::json!({"amount": 500, "interval": "daily"})
    );
    assert_eq!(
        account["credits"], 500,
        "a first refill starts at its amount"
    );
    let cleared = d
        .run(&["--json", "accounts", "refill", "acme/user_1", "--clear"])
        .json();
    assert_eq!(cleared["refill"], serde_json::Value::Null);
    // A key's own refill.
    let shown = d
        .run(&[
            "--json",
            "keys",
            "create",
            "--kind",
            "secret",
            "--refill-amount",
            "7",
            "--refill-interval",
            "monthly",
        ])
        .json();
    assert_eq!(
        shown["refill"],
        serde_json::json!({"amount": 7, "interval": "monthly"})
    );
    assert_eq!(shown["credits"], 7);
}

async fn account_commands_refuse_bad_input(d: &Deployment) {
    d.init();
    for args in [
        &["accounts", "show", "acme"][..],
        &["accounts", "show", "acme/a b"],
        &["accounts", "credits", "acme/u1", "--add", "0"],
        &["accounts", "credits", "acme/u1", "--add", "-5"],
        &["accounts", "refill", "acme/u1"],
        &["accounts", "refill", "acme/u1", "--amount", "5"],
        &[
            "accounts",
            "refill",
            "acme/u1",
            "--amount",
            "5",
            "--interval",
            "weekly",
        ],
        &[
            "accounts",
            "refill",
            "acme/u1",
            "--clear",
            "--amount",
            "5",
            "--interval",
            "daily",
        ],
        &["keys", "create", "--kind", "secret", "--owner", "a b"],
        &["keys", "create", "--kind", "secret", "--refill-amount", "5"],
    ] {
        let ran = d.run(args);
        assert_eq!(ran.code, 2, "{args:?}: {ran:#?}");
        assert!(ran.stdout.is_empty());
    }
    // The engine's rules, in the command line's words.
    let ran = d.run(&["keys", "create", "--kind", "secret", "--owner", "user_1"]);
    assert_eq!(ran.code, 2, "{ran:#?}");
    assert!(ran.stderr.contains("--owner"), "{ran:#?}");
    let ran = d.run(&[
        "keys",
        "create",
        "--kind",
        "secret",
        "--tenant",
        "acme",
        "--owner",
        "user_1",
        "--credits",
        "5",
    ]);
    assert_eq!(ran.code, 2, "{ran:#?}");
    assert!(ran.stderr.contains("--credits"), "{ran:#?}");
}
