//! Bad input and failures: the exit code (2 for a wrong command line, 1 for what could
//! not be done), an `error:` line that says what to do, nothing changed, and no secret
//! or database URL in the message.

use predicates::prelude::*;

use crate::common::{Deployment, bare, on_every_store};

on_every_store!(
    values_keygate_refuses_are_usage_errors,
    nothing_is_done_without_a_set_up_database,
    unknown_key_ids_fail,
    a_key_text_given_as_an_id_is_not_repeated,
    a_wrong_pepper_is_refused,
    a_given_admin_secret_is_left_alone,
);

async fn values_keygate_refuses_are_usage_errors(d: &Deployment) {
    d.init();
    let create = |args: &[&str]| d.run(&[&["keys", "create"], args].concat());
    create(&["--kind", "master"]).refused(
        2,
        &[
            "invalid value 'master' for '--kind <KIND>'",
            "secret, restricted, publishable, custom",
        ],
    );
    create(&["--kind", "custom", "--prefix", "SK_"])
        .refused(2, &["--prefix", "1 to 16 of a-z 0-9"]);
    create(&["--kind", "custom", "--prefix", "sk_"]).refused(2, &["--prefix", "reserved"]);
    create(&["--kind", "custom", "--prefix", "bijou"]).refused(2, &["did you mean bijou_?"]);
    create(&["--kind", "custom"]).refused(
        2,
        &["a custom key needs --prefix", "Usage: keygate keys create"],
    );
    create(&["--kind", "secret", "--prefix", "bijou_"])
        .refused(2, &["only a custom key takes --prefix"]);
    create(&["--kind", "secret", "--credits", "-5"])
        .refused(2, &["'--credits <N>'", "cannot be negative"]);
    create(&["--kind", "secret", "--credits=-1"]).refused(2, &["cannot be negative"]);
    create(&["--kind", "secret", "--metadata", "{not json"])
        .refused(2, &["'--metadata <JSON>'", "not JSON"]);
    create(&["--kind", "secret", "--metadata", "[1, 2]"]).refused(2, &["a JSON object"]);
    create(&[
        "--kind",
        "secret",
        "--metadata",
        &format!(r#"{{"big": "{}"}}"#, "x".repeat(5000)),
    ])
    .refused(2, &["--metadata: at most 4096 bytes"]);
    create(&["--kind", "restricted", "--scope", "read users"])
        .refused(2, &["'--scope <SCOPE>'", "such as read:users"]);
    create(&["--kind", "secret", "--tenant", "acme corp"]).refused(2, &["'--tenant <TENANT>'"]);
    create(&["--kind", "secret", "--rate-limit", "100"]).refused(2, &["LIMIT/WINDOW", "100/60s"]);
    create(&["--kind", "secret", "--expires-at", "tomorrow"]).refused(2, &["RFC 3339"]);
    create(&["--kind", "secret", "--expires-at", "2001-01-01T00:00:00Z"])
        .refused(2, &["--expires-at: must be in the future"]);
    create(&["--kind", "secret", "--name", &"n".repeat(129)])
        .refused(2, &["at most 128 characters"]);
    d.run(&[
        "keys",
        "credits",
        "key_0123456789abcdefghijklmn",
        "--add",
        "-3",
    ])
    .refused(2, &["cannot be negative"]);
    d.run(&[
        "keys",
        "credits",
        "key_0123456789abcdefghijklmn",
        "--add",
        "0",
    ])
    .refused(2, &["from 1 to"]);
    d.run(&["keys", "rotate", "key_0123456789abcdefghijklmn"])
        .refused(2, &["--grace <DURATION>"]);
    d.run(&[
        "keys",
        "rotate",
        "key_0123456789abcdefghijklmn",
        "--grace",
        "31d",
    ])
    .refused(2, &["0 to 30d"]);
    let mint = |args: &[&str]| d.run(&[&["tokens", "mint"], args].concat());
    mint(&["--resource", "lens", "--action", "make"]).refused(2, &["'--action <ACTION>'"]);
    mint(&["--resource", "lens:x", "--action", "create"]).refused(2, &["'--resource <RESOURCE>'"]);
    mint(&[
        "--resource",
        "lens",
        "--action",
        "create",
        "--duration",
        "5",
    ])
    .refused(2, &["--type session"]);
    mint(&[
        "--resource",
        "lens",
        "--action",
        "create",
        "--type",
        "session",
        "--duration",
        "1441",
    ])
    .refused(2, &["1..=1440"]);
    // Nothing was made by any of them.
    assert!(d.run(&["keys", "list"]).ok().contains("No keys yet"));
}

async fn nothing_is_done_without_a_set_up_database(d: &Deployment) {
    let list = d.run(&["keys", "list"]);
    if d.postgres {
        list.refused(1, &["not set up for keygate yet", "keygate init"]);
    } else {
        list.refused(1, &["no database at", "keygate init"]);
        assert!(
            !d.dir.path().join("keygate.db").exists(),
            "no stray database"
        );
    }
    d.run(&["keys", "create", "--kind", "secret"])
        .refused(1, &["keygate init"]);
    d.run(&["tokens", "mint", "--resource", "lens", "--action", "create"])
        .refused(1, &["keygate init"]);
    assert!(!d.pepper_file().exists(), "no stray pepper");
}

async fn unknown_key_ids_fail(d: &Deployment) {
    d.init();
    let id = "key_0123456789abcdefghijklmn";
    for args in [
        vec!["keys", "show", id],
        vec!["keys", "revoke", id],
        vec!["keys", "rotate", id, "--grace", "0"],
        vec!["keys", "credits", id],
        vec!["keys", "credits", id, "--add", "1"],
    ] {
        d.run(&args).refused(
            1,
            &[&format!("no key has the id {id}"), "keygate keys list"],
        );
    }
}

async fn a_key_text_given_as_an_id_is_not_repeated(d: &Deployment) {
    d.init();
    let (_, key) = d.create(&["--kind", "secret"]);
    for command in ["show", "revoke", "credits"] {
        let stderr = d
            .run(&["keys", command, &key])
            .refused(2, &["is a key id", "not the key's text"]);
        assert!(!stderr.contains(&key[10..]), "{stderr}");
    }
}

async fn a_wrong_pepper_is_refused(d: &Deployment) {
    d.init();
    let other = d.dir.path().join("other.pepper");
    // Any 32 bytes, in the pepper file's form.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(
        &mut options.open(&other).unwrap(),
        b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
    )
    .unwrap();
    let with_pepper = |path: &std::path::Path| {
        crate::common::ran(
            bare()
                .current_dir(d.dir.path())
                .args(["--database-url", &d.url, "--pepper-file"])
                .arg(path)
                .args(["keys", "list"]),
        )
    };
    with_pepper(&other).refused(1, &["pepper", "KEYGATE_PEPPER"]);
    with_pepper(&d.dir.path().join("missing.pepper")).refused(1, &["missing.pepper"]);
}

async fn a_given_admin_secret_is_left_alone(d: &Deployment) {
    let given = "given-admin-secret-0123456789abcdef";
    crate::common::ran(d.keygate().env("KEYGATE_ADMIN_SECRET", given).arg("init")).ok();
    // Opened without the variable, the command line works and generates no secret of
    // its own: nothing is stored, nothing is shown.
    let ran = d.run(&["--json", "keys", "list"]);
    assert_eq!(ran.code, 0, "{ran:#?}");
    assert!(ran.stderr.is_empty(), "{ran:#?}");
    serde_json::from_str::<serde_json::Value>(&ran.stdout).unwrap();
    let store = d.engine().await;
    assert!(
        !crate::common::admits(&store, given).await,
        "an engine without the variable has no secret"
    );
}

#[test]
fn errors_never_show_the_database_url_or_its_password() {
    let dir = tempfile::tempdir().unwrap();
    bare()
        .current_dir(dir.path())
        .args([
            "--database-url",
            "postgres://keygate:s3cret-pw@127.0.0.1:1/keygate?sslmode=disable",
        ])
        .args(["keys", "list"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::starts_with(
            "error: could not connect to the database",
        ))
        .stderr(predicate::str::contains(
            "--database-url (or KEYGATE_DATABASE_URL)",
        ))
        .stderr(predicate::str::contains("s3cret-pw").not())
        .stderr(predicate::str::contains("127.0.0.1:1").not());
    bare()
        .current_dir(dir.path())
        .env("KEYGATE_DATABASE_URL", "mysql://root:s3cret-pw@db/keygate")
        .args(["keys", "list"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("sqlite: or postgres:"))
        .stderr(predicate::str::contains("s3cret-pw").not());
    bare()
        .current_dir(dir.path())
        .env("KEYGATE_PEPPER", "not a pepper but a secret all the same")
        .args(["--database-url", "sqlite::memory:", "keys", "list"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("KEYGATE_PEPPER is not a pepper"))
        .stderr(predicate::str::contains("secret all the same").not());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing created"
    );
}

#[test]
fn help_reads_well_and_usage_errors_exit_2() {
    bare()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes: 0 done; 1 failed"))
        .stdout(predicate::str::contains("KEYGATE_DATABASE_URL"))
        .stdout(predicate::str::contains("Examples:"));
    for path in [
        &["keys", "create"][..],
        &["keys", "rotate"],
        &["tokens", "mint"],
        &["init"],
    ] {
        bare()
            .args(path)
            .arg("--help")
            .assert()
            .success()
            .stdout(predicate::str::contains("Examples:"));
    }
    bare()
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Usage: keygate"));
    bare()
        .args(["keys", "frobnicate"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "error: unrecognized subcommand 'frobnicate'",
        ));
    bare()
        .args(["oauth", "clients", "frobnicate"])
        .assert()
        .code(2);
}
