//! The HTTP face on `service.listen`: `/healthz` (the process and supervisor are alive),
//! `/readyz` (the store is open and every tenant's actors are up) and `/status` (JSON per
//! tenant). Open endpoints; they carry no secrets and no upstream host names.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use hrsync_actors::status::StatusBoard;

/// The router, callable without a socket in tests.
pub fn app(status: StatusBoard) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/status", get(status_json))
        .with_state(status)
}

async fn readyz(State(status): State<StatusBoard>) -> impl IntoResponse {
    if status.all_up() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

async fn status_json(State(status): State<StatusBoard>) -> impl IntoResponse {
    Json(serde_json::json!({ "tenants": status.snapshot() }))
}
