//! A deployment's first start and the starts after it (`keygate_sqlx::setup`): files,
//! secrets shown once, refusals that say what to do.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;

use keygate_core::{Access, Keygate, Pepper, PlatformSecret};
use keygate_sqlx::setup::{Opened, Setup, SetupError, Start};

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("keygate.db").display())
}

/// Whether `secret` opens an admin route of the engine `opened` builds.
async fn admits(opened: &Opened, secret: &str) -> bool {
    let keygate: Keygate = opened.keygate_builder().unwrap().build().unwrap();
    let request = http::Request::get("/")
        .header("x-client-secret", secret)
        .body(())
        .unwrap();
    keygate
        .authenticate(&request, &Access::admin())
        .await
        .is_ok()
}

#[tokio::test]
async fn first_start_creates_everything_and_shows_the_secret_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());

    let first = Setup::new(&url).open(Start::OpenOrCreate).await.unwrap();
    assert!(first.initialised_now());
    let secret = first
        .new_admin_secret()
        .expect("a new secret")
        .expose()
        .to_owned();
    let pepper_file = dir.path().join("keygate.pepper");
    assert_eq!(first.created_pepper_file(), Some(pepper_file.as_path()));
    assert!(dir.path().join("keygate.db").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&pepper_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(admits(&first, &secret).await);
    let pepper_id = first.pepper().id();
    first.store().close().await;

    let second = Setup::new(&url).open(Start::OpenOrCreate).await.unwrap();
    assert!(!second.initialised_now());
    assert!(second.new_admin_secret().is_none(), "shown once only");
    assert!(second.created_pepper_file().is_none());
    assert_eq!(second.pepper().id(), pepper_id);
    assert!(admits(&second, &secret).await);
    assert!(!admits(&second, "not-the-secret-at-all-0000000").await);
}

#[tokio::test]
async fn init_refuses_a_database_that_is_set_up() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    Setup::new(&url).open(Start::CreateOnly).await.unwrap();
    let pepper_before = std::fs::read(dir.path().join("keygate.pepper")).unwrap();
    let err = Setup::new(&url).open(Start::CreateOnly).await.unwrap_err();
    assert!(matches!(err, SetupError::AlreadyInitialised), "{err}");
    assert_eq!(
        std::fs::read(dir.path().join("keygate.pepper")).unwrap(),
        pepper_before,
        "the pepper file is never overwritten"
    );
}

#[tokio::test]
async fn open_existing_refuses_a_missing_database_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let err = Setup::new(&url)
        .open(Start::OpenExisting)
        .await
        .unwrap_err();
    assert!(matches!(err, SetupError::DatabaseMissing(_)), "{err}");
    assert!(err.to_string().contains("keygate init"), "{err}");
    assert!(!dir.path().join("keygate.db").exists());
    assert!(!dir.path().join("keygate.pepper").exists());
}

#[tokio::test]
async fn a_lost_pepper_is_an_error_never_a_new_pepper() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    Setup::new(&url).open(Start::OpenOrCreate).await.unwrap();
    std::fs::remove_file(dir.path().join("keygate.pepper")).unwrap();

    let err = Setup::new(&url)
        .open(Start::OpenOrCreate)
        .await
        .unwrap_err();
    assert!(matches!(err, SetupError::PepperMissing(_)), "{err}");
    assert!(err.to_string().contains("KEYGATE_PEPPER"), "{err}");
    assert!(!dir.path().join("keygate.pepper").exists(), "no new pepper");
}

#[tokio::test]
async fn a_wrong_pepper_is_refused_and_names_both_ids() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let first = Setup::new(&url).open(Start::OpenOrCreate).await.unwrap();
    let right = first.pepper().id();
    first.store().close().await;

    let other = Pepper::generate().unwrap();
    let err = Setup::new(&url)
        .pepper(secrecy::ExposeSecret::expose_secret(&other.to_base64()))
        .open(Start::OpenOrCreate)
        .await
        .unwrap_err();
    match &err {
        SetupError::PepperMismatch { expected, found } => {
            assert_eq!((*expected, *found), (right, other.id()));
        }
        other => panic!("expected a mismatch, got {other}"),
    }
    // The right pepper still opens it: the refusal recorded nothing.
    Setup::new(&url).open(Start::OpenExisting).await.unwrap();
}

#[tokio::test]
async fn bad_texts_are_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let refusals = [
        (Setup::new(&url).pepper("not base64 !"), "KEYGATE_PEPPER"),
        (
            Setup::new(&url).admin_secret("short"),
            "KEYGATE_ADMIN_SECRET",
        ),
        (
            Setup::new(&url).token_secret("short"),
            "KEYGATE_TOKEN_SECRET",
        ),
    ];
    for (setup, named) in refusals {
        let err = setup.open(Start::OpenOrCreate).await.unwrap_err();
        assert!(err.to_string().contains(named), "{err}");
    }
    assert!(!dir.path().join("keygate.db").exists());
}

#[cfg(unix)]
#[tokio::test]
async fn a_pepper_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    Setup::new(&url).open(Start::OpenOrCreate).await.unwrap();
    let path = dir.path().join("keygate.pepper");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = Setup::new(&url)
        .open(Start::OpenOrCreate)
        .await
        .unwrap_err();
    assert!(matches!(err, SetupError::PepperFileExposed { .. }), "{err}");
    assert!(err.to_string().contains("chmod 600"), "{err}");
}

#[tokio::test]
async fn a_given_admin_secret_is_used_and_nothing_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let given = PlatformSecret::generate().unwrap();
    let opened = Setup::new(&url)
        .admin_secret(given.expose())
        .open(Start::OpenOrCreate)
        .await
        .unwrap();
    assert!(opened.new_admin_secret().is_none());
    assert!(opened.admin_secret_given());
    assert!(admits(&opened, given.expose()).await);
    assert!(
        opened
            .store()
            .platform_secret_digest()
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_given_token_secret_signs_tokens_every_instance_accepts() {
    use keygate_core::ScopeSet;
    use keygate_core::token::{TokenKind, TokenRequest};
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let token_secret = "0123456789abcdef0123456789abcdef";
    let first = Setup::new(&url)
        .token_secret(token_secret)
        .open(Start::OpenOrCreate)
        .await
        .unwrap();
    let secret = first.new_admin_secret().unwrap().expose().to_owned();
    let a = first.keygate_builder().unwrap().build().unwrap();
    let admin = http::Request::get("/")
        .header("x-client-secret", &secret)
        .body(())
        .unwrap();
    let operator = a
        .authenticate(&admin, &Access::admin())
        .await
        .unwrap()
        .into_principal();
    let token = a
        .issue_token(
            &operator,
            TokenRequest {
                scopes: Some(ScopeSet::parse(["lens:create"]).unwrap()),
                ..TokenRequest::new(TokenKind::Session)
            },
        )
        .unwrap();
    let call = |keygate: Keygate| {
        let request = http::Request::post("/")
            .header("authorization", format!("Bearer {}", token.expose()))
            .body(())
            .unwrap();
        async move {
            keygate
                .authenticate(&request, &Access::scoped("lens:create").unwrap())
                .await
                .is_ok()
        }
    };
    let same = Setup::new(&url)
        .token_secret(token_secret)
        .open(Start::OpenExisting)
        .await
        .unwrap();
    assert!(call(same.keygate_builder().unwrap().build().unwrap()).await);
    let derived = Setup::new(&url).open(Start::OpenExisting).await.unwrap();
    assert!(
        !call(derived.keygate_builder().unwrap().build().unwrap()).await,
        "a key derived from the pepper is another key"
    );
}

#[tokio::test]
async fn postgres_instances_starting_at_once_show_one_secret() {
    let Some(schema) = common::PgSchema::new("postgres_instances_starting_at_once").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pepper = Pepper::generate().unwrap();
    let pepper_text = secrecy::ExposeSecret::expose_secret(&pepper.to_base64()).to_owned();
    let url = format!(
        "{}?options=-c%20search_path%3D{}",
        std::env::var("KEYGATE_TEST_POSTGRES_URL").unwrap(),
        schema.name
    );
    let open = || {
        Setup::new(&url)
            .pepper(&pepper_text)
            .pepper_file(dir.path().join("unused.pepper"))
            .open(Start::OpenOrCreate)
    };
    let err = Setup::new(&url)
        .pepper(&pepper_text)
        .open(Start::OpenExisting)
        .await
        .unwrap_err();
    assert!(matches!(err, SetupError::NotInitialised), "{err}");

    let (a, b) = tokio::join!(open(), open());
    let (a, b) = (a.unwrap(), b.unwrap());
    let shown: Vec<_> = [&a, &b]
        .iter()
        .filter_map(|opened| opened.new_admin_secret())
        .map(|secret| secret.expose().to_owned())
        .collect();
    assert_eq!(shown.len(), 1, "exactly one instance shows the secret");
    assert!(admits(&a, &shown[0]).await);
    assert!(admits(&b, &shown[0]).await);
    assert!(
        !dir.path().join("unused.pepper").exists(),
        "a given pepper writes no file"
    );
    a.store().close().await;
    b.store().close().await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn open_existing_never_generates_an_admin_secret() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let given = PlatformSecret::generate().unwrap();
    Setup::new(&url)
        .admin_secret(given.expose())
        .open(Start::CreateOnly)
        .await
        .unwrap();

    let tool = Setup::new(&url).open(Start::OpenExisting).await.unwrap();
    assert!(tool.new_admin_secret().is_none());
    assert!(
        !admits(&tool, given.expose()).await,
        "no platform secret at all"
    );
    assert!(
        tool.store()
            .platform_secret_digest()
            .await
            .unwrap()
            .is_none()
    );
    tool.store().close().await;

    // A service started without the variable is refused: it must not mint a new admin
    // credential and print it to whatever collects its output.
    let err = Setup::new(&url)
        .open(Start::OpenOrCreate)
        .await
        .unwrap_err();
    assert!(matches!(err, SetupError::AdminSecretMissing), "{err}");
    assert!(err.to_string().contains("KEYGATE_ADMIN_SECRET"), "{err}");
    let service = Setup::new(&url)
        .admin_secret(given.expose())
        .open(Start::OpenOrCreate)
        .await
        .unwrap();
    assert!(admits(&service, given.expose()).await);
}

#[tokio::test]
async fn a_database_holding_keys_is_set_up_even_without_settings() {
    use keygate_core::key::{KeyKind, NewKey};
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    // A store wired by hand, as docs/stores.md shows: keys, but no recorded pepper id and
    // no platform secret.
    let pepper = Pepper::generate().unwrap();
    let pepper_text = secrecy::ExposeSecret::expose_secret(&pepper.to_base64()).to_owned();
    let store = keygate_sqlx::SqlStore::connect(&url).await.unwrap();
    let keygate = Keygate::builder()
        .pepper(pepper)
        .key_store(store.clone())
        .build()
        .unwrap();
    keygate
        .create_key(NewKey::new(
            KeyKind::Secret,
            keygate_core::Environment::Test,
        ))
        .await
        .unwrap();
    store.close().await;

    let err = Setup::new(&url)
        .open(Start::OpenOrCreate)
        .await
        .unwrap_err();
    assert!(matches!(err, SetupError::PepperMissing(_)), "{err}");
    assert!(!dir.path().join("keygate.pepper").exists(), "no new pepper");
    let err = Setup::new(&url).open(Start::CreateOnly).await.unwrap_err();
    assert!(matches!(err, SetupError::AlreadyInitialised), "{err}");
    let other = Pepper::generate().unwrap();
    let err = Setup::new(&url)
        .pepper(secrecy::ExposeSecret::expose_secret(&other.to_base64()))
        .open(Start::OpenExisting)
        .await
        .unwrap_err();
    assert!(matches!(err, SetupError::PepperMismatch { .. }), "{err}");
    let opened = Setup::new(&url)
        .pepper(&pepper_text)
        .open(Start::OpenExisting)
        .await
        .unwrap();
    assert!(opened.new_admin_secret().is_none());
}

#[tokio::test]
async fn two_starts_at_once_write_one_pepper_file_and_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let (a, b) = tokio::join!(
        Setup::new(&url).open(Start::OpenOrCreate),
        Setup::new(&url).open(Start::OpenOrCreate)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.pepper().id(), b.pepper().id());
    let created = [&a, &b]
        .iter()
        .filter(|opened| opened.created_pepper_file().is_some())
        .count();
    assert_eq!(created, 1);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|name| !name.ends_with(".tmp")),
        "no temporary file is left: {names:?}"
    );
}

/// Two instances in different directories set one fresh Postgres database up, each with
/// a pepper file of its own: one wins; the other is refused and removes the file it wrote,
/// so its next start says the pepper is missing rather than wrong.
#[tokio::test]
async fn the_loser_of_a_first_start_keeps_no_pepper_file() {
    let Some(schema) = common::PgSchema::new("the_loser_of_a_first_start").await else {
        return;
    };
    let url = format!(
        "{}?options=-c%20search_path%3D{}",
        std::env::var("KEYGATE_TEST_POSTGRES_URL").unwrap(),
        schema.name
    );
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let open = |dir: &Path| {
        Setup::new(&url)
            .pepper_file(dir.join("keygate.pepper"))
            .open(Start::OpenOrCreate)
    };
    let (a, b) = tokio::join!(open(one.path()), open(two.path()));
    let (winner, loser_dir, loser) = match (a, b) {
        (Ok(winner), Err(err)) => (winner, two.path(), err),
        (Err(err), Ok(winner)) => (winner, one.path(), err),
        (a, b) => panic!("exactly one start wins: {a:?} / {b:?}"),
    };
    // Depending on timing, it saw the database set up already (the pepper is missing
    // here) or lost the race to record its own (a mismatch); either way it wrote nothing.
    assert!(
        matches!(
            loser,
            SetupError::PepperMismatch { .. } | SetupError::PepperMissing(_)
        ),
        "{loser}"
    );
    assert!(!loser_dir.join("keygate.pepper").exists());
    winner.store().close().await;
    schema.drop_schema().await;
}
