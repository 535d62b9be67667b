//! Refresh tokens: rotation, reuse detection that revokes the family, no widening of
//! scope (RFC 6749 §6, RFC 9700 §4.14).

use std::sync::Arc;

use crate::store::OAuthStore;
use crate::testing::harness::Harness;

/// A rotated refresh token used again revokes the whole family, the newest tokens too.
pub async fn refresh_reuse_revokes_the_family(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(store);
    let client = h.register(false, None, &["read:users"]).await;
    let code = h.code(&client, "read:users", None).await;
    let first = h.exchange(&client, &code).await;
    let refresh = |token: String| {
        let h = h.clone();
        let client = client.clone();
        async move {
            h.token_post(
                &client,
                &[("grant_type", "refresh_token"), ("refresh_token", &token)],
            )
            .await
        }
    };
    let second = refresh(first.text("refresh_token")).await;
    assert_eq!(second.status, 200);
    let reuse = refresh(first.text("refresh_token")).await;
    assert_eq!(
        (reuse.status.as_u16(), reuse.error()),
        (400, "invalid_grant")
    );
    assert_eq!(
        h.call(&second.text("access_token"))
            .await
            .unwrap_err()
            .code(),
        "invalid_token"
    );
    assert_eq!(
        refresh(second.text("refresh_token")).await.error(),
        "invalid_grant"
    );
}

/// A refresh may narrow the scope, never widen it beyond what the user granted.
pub async fn a_refresh_cannot_widen_scope(store: Arc<dyn OAuthStore>) {
    let h = Harness::new(store);
    let client = h
        .register(false, None, &["read:users", "write:users"])
        .await;
    let code = h.code(&client, "read:users", None).await;
    let tokens = h.exchange(&client, &code).await;
    let wider = h
        .token_post(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &tokens.text("refresh_token")),
                ("scope", "read:users write:users"),
            ],
        )
        .await;
    assert_eq!(
        (wider.status.as_u16(), wider.error()),
        (400, "invalid_scope")
    );
    // The refused request did not spend the token.
    let same = h
        .token_post(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &tokens.text("refresh_token")),
                ("scope", "read:users"),
            ],
        )
        .await;
    assert_eq!(same.status, 200, "{:?}", same.json);
}
