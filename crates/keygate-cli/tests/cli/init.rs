//! `keygate init`: the first start, shown once, never repeated.

use crate::common::{Deployment, admits, on_every_store};

on_every_store!(
    init_sets_up_and_shows_the_secret_once,
    init_json_names_what_it_made,
    a_given_admin_secret_is_named_never_shown,
);

/// The admin secret in init's curl line.
fn secret_in_curl(stdout: &str) -> String {
    let start = stdout.find("x-client-secret: ").unwrap() + "x-client-secret: ".len();
    let end = start + stdout[start..].find('\'').unwrap();
    stdout[start..end].to_owned()
}

async fn init_sets_up_and_shows_the_secret_once(d: &Deployment) {
    let stdout = d.run(&["init"]).ok();
    let secret = secret_in_curl(&stdout);
    assert!(secret.len() >= 24, "{stdout}");
    assert_eq!(
        stdout.matches(&secret).count(),
        2,
        "once alone, once in the curl line: {stdout}"
    );
    assert!(stdout.contains("shown this once"), "{stdout}");
    assert!(
        stdout.contains("curl -X POST http://127.0.0.1:8080/api/v1/admin/keys"),
        "{stdout}"
    );
    assert!(stdout.contains(r#"{"kind": "secret", "environment": "test", "tenant": "acme"}"#));
    let pepper = d.pepper_file();
    assert!(stdout.contains(&pepper.display().to_string()), "{stdout}");
    if d.postgres {
        assert!(stdout.contains("Postgres, postgres://"), "{stdout}");
        assert!(
            !stdout.contains("search_path"),
            "no URL parameters: {stdout}"
        );
    } else {
        let db = d.dir.path().join("keygate.db");
        assert!(stdout.contains(&db.display().to_string()), "{stdout}");
        assert!(db.exists());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&pepper).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(admits(&d.engine().await, &secret).await);

    // Set up once: a second init changes nothing and shows nothing.
    let pepper_before = std::fs::read(&pepper).unwrap();
    let stderr = d
        .run(&["init"])
        .refused(1, &["set up already", "nothing was changed"]);
    assert!(!stderr.contains(&secret));
    assert_eq!(std::fs::read(&pepper).unwrap(), pepper_before);
    assert!(admits(&d.engine().await, &secret).await);
    assert!(d.run(&["keys", "list"]).ok().contains("No keys yet"));
}

async fn init_json_names_what_it_made(d: &Deployment) {
    let shown = d.run(&["--json", "init"]).json();
    assert_eq!(shown["pepper_source"], "created");
    assert_eq!(shown["admin_secret_source"], "generated");
    assert_eq!(
        shown["pepper_file"].as_str().unwrap(),
        d.pepper_file().display().to_string()
    );
    let secret = shown["admin_secret"].as_str().unwrap();
    assert!(admits(&d.engine().await, secret).await);
}

async fn a_given_admin_secret_is_named_never_shown(d: &Deployment) {
    let given = "given-admin-secret-0123456789abcdef";
    let stdout =
        crate::common::ran(d.keygate().env("KEYGATE_ADMIN_SECRET", given).arg("init")).ok();
    assert!(stdout.contains("KEYGATE_ADMIN_SECRET"), "{stdout}");
    assert!(
        stdout.contains("x-client-secret: $KEYGATE_ADMIN_SECRET"),
        "{stdout}"
    );
    assert!(!stdout.contains(given), "{stdout}");
    let shown = crate::common::ran(
        d.keygate()
            .env("KEYGATE_ADMIN_SECRET", given)
            .args(["--json", "keys", "list"]),
    )
    .json();
    assert_eq!(shown["keys"].as_array().unwrap().len(), 0);
}
